"""The stopping rule (issue 26): expected probe accuracy and expected gain against explicit Bayes updates."""

import numpy as np
import pytest

from ivr.elicit.bayes import BayesEIGPolicy
from ivr.elicit.policies import RandomPolicy
from ivr.elicit.state import PersonState
from ivr.elicit.stopping import StoppingRule, bayes_predictor, expected_accuracy, expected_gain
from ivr.errors import ConfigError
from ivr.experiment.bayes import setup_probes


@pytest.fixture(scope="module")
def setup(small_catalog_dir):
    from ivr.catalog.store import load_catalog
    from ivr.catalog.synth import SynthModel

    catalog = load_catalog(small_catalog_dir)
    model = SynthModel.load(small_catalog_dir)
    return catalog, model, setup_probes(catalog, (0,))[0]


def explicit(model, asked, answers, questions):
    """P(option | answers) of ``questions`` by an explicit Bayes update over the profiles."""
    probs = model.option_probs("refined")
    prior = np.exp(model.marginal_logprior - model.marginal_logprior.max())
    w = prior / prior.sum()
    for q, a in zip(asked, answers):
        if a >= 0:
            w = w * probs[:, q, a]
            w = w / w.sum()
    return np.einsum("k,kmo->mo", w, probs[:, questions])


def test_expected_accuracy_and_gain_equal_explicit_bayes_updates(setup):
    catalog, model, probes = setup
    predict = bayes_predictor(BayesEIGPolicy(model).posterior)
    state = PersonState(len(catalog.codebook.questions), probes)
    state.record(10, 0)
    state.record(50, -1)  # a skip changes nothing
    now = explicit(model, [10], [0], probes)
    assert expected_accuracy(predict([state], probes))[0] == pytest.approx(now.max(axis=1).mean(), abs=1e-9)
    c = 77
    p_c = explicit(model, [10], [0], [c])[0]
    brute = (
        sum(p_c[a] * explicit(model, [10, c], [0, a], probes).max(axis=1).mean() for a in range(len(p_c)) if p_c[a] > 0)
        - now.max(axis=1).mean()
    )
    gain = expected_gain(predict, state, c, probes)
    assert gain == pytest.approx(brute, abs=1e-9)
    assert gain >= 0  # the exact posterior's expected accuracy cannot fall on average
    assert state.asked == [10, 50]  # the hypothetical answers left the state alone


def test_rule_stops_at_the_count_the_target_or_a_small_gain(setup):
    catalog, model, probes = setup
    eig = BayesEIGPolicy(model)
    predict = bayes_predictor(eig.posterior)
    n_q = len(catalog.codebook.questions)

    def interview(rule, policy):
        s = PersonState(n_q, probes, key="p")
        while True:
            q, reason, acc, gain = rule.decide(policy, predict, s, probes)
            if q is None:
                return s, reason, acc
            s.record(q, int(np.nanargmax(predict([s], np.array([q]))[0, 0])))  # the most probable answer

    s, reason, _ = interview(StoppingRule(4), eig)
    assert (len(s.asked), reason) == (4, "max")
    s0, _, acc0 = interview(StoppingRule(0), eig)
    s, reason, acc = interview(StoppingRule(30, target=acc0 + 0.02), eig)
    assert reason == "target" and acc >= acc0 + 0.02 and 0 < len(s.asked) < 30
    s, reason, _ = interview(StoppingRule(30, min_gain=0.99), RandomPolicy(0))
    assert (len(s.asked), reason) == (0, "gain")
    s, reason, _ = interview(StoppingRule(30, min_gain=0.0), eig)
    assert reason in ("max", "gain")


@pytest.mark.parametrize("kwargs", [{"max_questions": -1}, {"target": 1.5}, {"target": 0}, {"min_gain": -0.1}])
def test_rule_refuses_impossible_settings(kwargs):
    with pytest.raises(ConfigError, match="stopping rule"):
        StoppingRule(**{"max_questions": 10, **kwargs})


def test_stop_points_follow_the_rule_on_given_traces():
    from ivr.experiment.elicitation_stopping import stop_points

    acc = np.array([[0.40, 0.50, 0.62, 0.70], [0.40, 0.41, 0.42, 0.43], [0.40, 0.45, 0.50, 0.55]])
    gain = np.array([[0.10, 0.12, 0.08], [0.01, 0.0005, 0.01], [0.05, 0.05, 0.05]])
    lengths = np.array([3, 3, 2])
    ks, why = stop_points(StoppingRule(3, target=0.6, min_gain=0.001), acc, gain, lengths)
    assert ks.tolist() == [2, 1, 2] and why == ["target", "gain", "exhausted"]
    ks, why = stop_points(StoppingRule(1), acc, gain, lengths)
    assert ks.tolist() == [1, 1, 1] and why == ["max"] * 3


def test_experiment_scores_each_person_where_the_rule_stops(small_catalog_dir, tmp_path):
    """A count rule scores like the fixed-k table at that k; an easy target stops before any question."""
    from ivr.experiment.__main__ import main

    result = main(
        [
            "elicitation",
            "--config",
            "configs/experiments/elicitation.yaml",
            "--out",
            str(tmp_path / "e"),
            "--progress",
            "false",
            "--data.catalog",
            str(small_catalog_dir),
            "--data.split_rule",
            "stratified",
            "--data.split_size",
            "100",
            "--data.limit_eval_people",
            "4",
            "--bootstrap",
            "10",
            "--ks",
            "[0, 3, 6]",
            "--policies",
            "[random, bayes-eig]",
            "--scorers",
            "[bayes]",
            "--stopping",
            "[{max_questions: 3}, {max_questions: 6, target: 0.01}, {max_questions: 6, min_gain: 0.0001}]",
        ]
    )
    for policy in ("random", "bayes-eig"):
        rules = result.results[f"stop_bayes_{policy}"]["stopping"]
        assert rules[0]["asked"] == 3 and rules[0]["reasons"] == {"max": 12}
        assert rules[0]["row"]["all"] == pytest.approx(result.table.loc[("bayes", policy, 3), "all"])
        assert rules[1]["asked"] == 0 and rules[1]["reasons"] == {"target": 12}
        assert rules[1]["row"]["all"] == pytest.approx(result.table.loc[("bayes", policy, 0), "all"])
        assert 0 <= rules[2]["asked"] <= 6 and set(rules[2]["reasons"]) <= {"gain", "max"}
    assert "Stopping rules" in (tmp_path / "e" / "table.txt").read_text()
