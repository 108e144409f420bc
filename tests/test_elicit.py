"""Adaptive elicitation (issue 17): policies, Bayes EIG against brute force, the scripted interview.

The experiment's quick-and-resume test is in tests/test_elicit_experiment.py.
"""

import json

import numpy as np
import pytest

from ivr.elicit.bayes import BayesEIGPolicy, mixture_eig
from ivr.elicit.policies import FixedPolicy, RandomPolicy, learn_fixed_order
from ivr.elicit.state import PersonState, simulate, states_for
from ivr.experiment.bayes import setup_probes


def brute_eig(w: np.ndarray, probs: np.ndarray, c: int) -> float:
    """H(Z) - sum_a P(a) H(Z | a) by explicit Bayes updates (the definition of the information gain)."""

    def h(p):
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    gain = h(w)
    for a in range(probs.shape[2]):
        joint = w * probs[:, c, a]
        pa = joint.sum()
        if pa > 0:
            gain -= pa * h(joint / pa)
    return gain


def brute_mi_with_rest(w: np.ndarray, probs: np.ndarray, c: int) -> float:
    """I(Y_c; Y_rest) by enumerating every joint answer of the other questions."""
    k, q, o = probs.shape
    rest = [j for j in range(q) if j != c]
    total = 0.0
    for combo in np.ndindex(*([o] * len(rest))):
        p_rest_k = w * np.prod([probs[:, j, a] for j, a in zip(rest, combo)], axis=0)  # [K]
        for a in range(o):
            p_joint = float((p_rest_k * probs[:, c, a]).sum())
            if p_joint > 0:
                p_c = float((w * probs[:, c, a]).sum())
                total += p_joint * np.log(p_joint / (p_c * p_rest_k.sum()))
    return total


def test_mixture_eig_matches_brute_force_on_a_tiny_population():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(3), size=(4, 3))  # 4 profiles, 3 questions, 3 options
    probs[:, 1, 2] = 0.0  # question 1 has two options
    probs[:, 1] /= probs[:, 1].sum(axis=1, keepdims=True)
    w = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]])
    eig = mixture_eig(w, probs)
    for n in range(2):
        for c in range(3):
            assert eig[n, c] == pytest.approx(brute_eig(w[n], probs, c), abs=1e-6)
            # the module's claim: EIG about the profile bounds the information about the other answers
            assert brute_mi_with_rest(w[n], probs, c) <= eig[n, c] + 1e-9


def test_profile_eig_equals_information_about_the_rest_when_the_rest_identifies_the_profile():
    probs = np.zeros((3, 3, 3))
    probs[:, 0] = [[0.8, 0.1, 0.1], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]]
    probs[:, 1] = np.eye(3)  # question 1 reveals the profile exactly
    probs[:, 2] = [[0.5, 0.5, 0], [0.5, 0.5, 0], [0.1, 0.9, 0]]
    w = np.array([[0.5, 0.3, 0.2]])
    assert mixture_eig(w, probs)[0, 0] == pytest.approx(brute_mi_with_rest(w[0], probs, 0), abs=1e-9)


@pytest.fixture(scope="module")
def catalog(small_catalog_dir):
    from ivr.catalog.store import load_catalog

    return load_catalog(small_catalog_dir)


def check_sequences(states, probes):
    for s in states:
        assert len(s.asked) == len(set(s.asked)), "a question was asked twice"
        assert not set(s.asked) & set(np.asarray(probes).tolist()), "a probe was asked"


def test_policies_never_ask_a_probe_or_an_asked_question(catalog, small_catalog_dir):
    from baselines.elicit import NeighboursPolicy

    probes = setup_probes(catalog, (1,))[1]
    n_open = len(catalog.codebook.questions) - len(probes)
    order = learn_fixed_order(catalog.refined[500:], np.asarray(catalog.codebook.n_options("refined")))
    assert sorted(order.tolist()) == list(range(len(catalog.codebook.questions)))
    policies = [
        RandomPolicy(0),
        FixedPolicy(order),
        BayesEIGPolicy(__import__("ivr.catalog.synth", fromlist=["x"]).SynthModel.load(small_catalog_dir)),
        NeighboursPolicy(catalog, np.arange(500, 700), n=10),
    ]
    for policy in policies:
        states = states_for(catalog, np.arange(2), 1, probes)
        if policy.name == "bayes-eig":  # the costly one: part of the way, then the rest asked in a fixed order
            simulate(policy, states, catalog.refined, 40)
            check_sequences(states, probes)
            simulate(policies[1], states, catalog.refined, n_open)
        simulate(policy, states, catalog.refined, n_open + 5)  # more steps than candidates
        check_sequences(states, probes)
        assert all(len(s.asked) == n_open for s in states), policy.name  # every candidate, then None
        assert policy.next_question(states[0]) is None
    with pytest.raises(ValueError, match="probe"):
        states[0].record(int(probes[0]), 0)


def test_bayes_policy_asks_the_brute_force_best_question(catalog, small_catalog_dir):
    from ivr.catalog.synth import SynthModel

    model = SynthModel.load(small_catalog_dir)
    policy = BayesEIGPolicy(model)
    probes = setup_probes(catalog, (0,))[0]
    state = PersonState(len(catalog.codebook.questions), probes)
    for q, a in ((10, 0), (50, 1)):
        state.record(q, a)
    probs = model.option_probs("refined")
    lp = np.log(np.exp(model.marginal_logprior) / np.exp(model.marginal_logprior).sum())
    w = np.exp(lp + np.log(probs[:, 10, 0]) + np.log(probs[:, 50, 1]))
    w /= w.sum()
    brute = np.array([brute_eig(w, probs, c) if state.candidates[c] else -np.inf for c in range(probs.shape[1])])
    pick = policy.next_question(state)
    assert state.candidates[pick]
    assert brute[pick] == pytest.approx(brute.max(), abs=1e-5)


def test_reasoner_policy_never_asks_a_probe(tmp_path):
    import torch

    from ivr.data.fixtures import tiny_datamodule
    from ivr.elicit.reasoner import ReasonerPolicy, ReasonerPredictor
    from ivr.model.module import IndieValueReasoner

    dm = tiny_datamodule(tmp_path, people=60, max_seq_length=4096, split_rule="stratified")
    dm.setup("test")
    torch.manual_seed(0)
    module = IndieValueReasoner(
        vocab_size=len(dm.load_tokenizer()),
        model_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "max_position_embeddings": 1024,
        },
    )
    module.configure_model()
    module.eval()
    probes = dm.setups[0]
    policy = ReasonerPolicy(ReasonerPredictor(module, dm), stride=3)
    states = states_for(dm.catalog, np.arange(2), 0, probes)
    simulate(policy, states, dm.catalog.refined, 7)
    check_sequences(states, probes)
    assert [len(s.asked) for s in states] == [7, 7]
    # the first pick of each refill is the most uncertain candidate under the model
    fresh = states_for(dm.catalog, np.arange(1), 0, probes)[0]
    scores = policy.scores([fresh])[0]
    assert states[0].asked[0] == int(np.argmax(np.where(fresh.candidates, scores, -np.inf)))


def test_interview_replays_a_scripted_respondent(catalog, small_catalog_dir, tmp_path):
    """The transcript of a scripted respondent equals one derived by brute force from the model."""
    from ivr.catalog.synth import SynthModel
    from ivr.elicit.__main__ import main

    answers = tmp_path / "answers.txt"
    answers.write_text("2\n# the respondent declines the next one\nskip\n1\n")
    out = tmp_path / "interview"
    assert (
        main(
            [
                "interview",
                "--bayes",
                "--data.catalog",
                str(small_catalog_dir),
                "--answers",
                str(answers),
                "--out",
                str(out),
                "--questions",
                "5",
                "--setup",
                "2",
            ]
        )
        == 0
    )
    got = json.loads((out / "transcript.json").read_text())
    text = (out / "transcript.txt").read_text()
    model = SynthModel.load(small_catalog_dir)
    probs = model.option_probs("refined")
    cb = catalog.codebook
    ids = [q.id for q in cb.questions]
    probes = setup_probes(catalog, (2,))[2]
    w = np.exp(model.marginal_logprior - model.marginal_logprior.max())
    w /= w.sum()
    asked = set()
    assert got["ended"] == "end of answers" and [t["answer"] for t in got["turns"]] == [2, "skip", 1]
    for turn, answer in zip(got["turns"], (1, None, 0)):
        q = ids.index(turn["question"])
        assert q not in probes and q not in asked
        brute = [brute_eig(w, probs, c) for c in range(len(ids)) if c not in asked and c not in probes]
        assert brute_eig(w, probs, q) == pytest.approx(max(brute), abs=1e-5)
        asked.add(q)
        if answer is not None:
            w = w * probs[:, q, answer]
            w /= w.sum()
        for p in probes.tolist():
            n_opt = len(cb.questions[p].refined)
            expected = (w[:, None] * probs[:, p, :n_opt]).sum(axis=0)
            assert turn["predictions"][ids[p]] == pytest.approx(expected.tolist(), abs=2e-4)
        statements = cb.questions[q].statements("refined")
        assert f"  1. {statements[0]}" in text and f"  {len(statements)}. {statements[-1]}" in text
    assert text.count("> skip") == 1
    # an answer outside the options names the line of the file; the transcript so far is still written
    answers.write_text("1\n99\n")
    from ivr.cli import run

    assert (
        run(
            main,
            [
                "interview",
                "--bayes",
                "--data.catalog",
                str(small_catalog_dir),
                "--answers",
                str(answers),
                "--out",
                str(out),
            ],
        )
        == 2
    )
    assert len(json.loads((out / "transcript.json").read_text())["turns"]) == 1


def test_interview_ends_cleanly_on_ctrl_c_and_bayes_needs_a_synthetic_catalog(catalog, small_catalog_dir, tmp_path):
    from ivr.catalog.store import write_catalog
    from ivr.catalog.synth import SynthModel
    from ivr.cli import run
    from ivr.data.fixtures import random_catalog
    from ivr.elicit.__main__ import main
    from ivr.elicit.interview import Interview

    policy = BayesEIGPolicy(SynthModel.load(small_catalog_dir))
    probes = setup_probes(catalog, (0,))[0]
    replies = iter(["0", "2"])  # "0" is no option: asked again; then Ctrl-C at the second question

    def read(prompt):
        reply = next(replies, None)
        if reply is None:
            raise KeyboardInterrupt
        return reply

    predict = lambda state, qs: policy.posterior.predictive([state], qs, "refined")[0]  # noqa: E731
    session = Interview(catalog.codebook, policy, predict, probes, write=lambda text: None)
    session.run(None, 10, read=read)
    assert session.ended == "interrupted" and len(session.turns) == 1
    assert session.turns[0].answer == 1
    session.save(tmp_path)
    assert json.loads((tmp_path / "transcript.json").read_text())["ended"] == "interrupted"
    real = tmp_path / "random_catalog"
    write_catalog(random_catalog(80), real, source="random")
    assert run(main, ["interview", "--bayes", "--data.catalog", str(real), "--out", str(tmp_path / "x")]) == 2
