"""Baselines: FAISS neighbours vs brute force, random expectation, majority rules, bad input, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from baselines.encode import PackedAnswers, setup_blocks, setup_codes
from baselines.majority import global_majority, pool_majority
from baselines.neighbours import TieKeys, top_neighbours
from baselines.random import codebook_expected_accuracy, expected_accuracy
from baselines.resemble import non_probe_questions, resemble_votes, sample_pool
from baselines.run import BaselineConfig, check_config, choose_split, run_baselines
from baselines.voting import vote_all_sizes
from ivr.catalog.codebook import load_codebook
from ivr.catalog.store import Catalog, write_catalog
from ivr.protocol.probes import probe_setups

PUBLISHED_RANDOM_POLAR = (46.37, 45.51, 44.23)


def random_answers(rng: np.random.Generator, people: int, n_opt: np.ndarray, missing: float) -> np.ndarray:
    """Correlated random option indices (-1 missing) so that neighbours and ties are realistic."""
    latent = rng.normal(size=(people, 2)) @ rng.normal(size=(2, len(n_opt)))
    frac = 1 / (1 + np.exp(-(latent + rng.normal(size=latent.shape))))
    ans = np.minimum((frac * n_opt).astype(np.int8), (n_opt - 1).astype(np.int8))
    ans[rng.random(ans.shape) < missing] = -1
    return ans


def polar_of(cb, refined: np.ndarray) -> np.ndarray:
    """Polar option indices of refined ones (-1 stays missing)."""
    polar = np.full_like(refined, -1)
    for q, question in enumerate(cb.questions):
        to_polar = [
            next(j for j, p in enumerate(question.polar) if set(o.codes) & set(p.codes)) for o in question.refined
        ]
        ok = refined[:, q] >= 0
        polar[ok, q] = np.asarray(to_polar, dtype=np.int8)[refined[ok, q]]
    return polar


def brute_force(
    answers: np.ndarray,
    n_opt: np.ndarray,
    queries: np.ndarray,
    pool: np.ndarray,
    features: np.ndarray,
    probes: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference: dense agreement, (agreement desc, index asc) ranking, Python votes."""

    def onehot(rows: np.ndarray) -> np.ndarray:
        return np.concatenate([answers[rows][:, [q]] == np.arange(n_opt[q]) for q in features], axis=1).astype(float)

    agree = (onehot(queries) @ onehot(pool).T).astype(np.int64)
    order = np.array([sorted(range(len(pool)), key=lambda j: (-row[j], j))[:n] for row in agree])
    fallback = global_majority(answers[pool][:, probes], n_opt[probes])
    votes = np.empty((n, len(queries), len(probes)), dtype=np.int64)
    for e in range(len(queries)):
        for k, q in enumerate(probes):
            labels = answers[pool[order[e]], q]
            for size in range(1, n + 1):
                valid = [int(v) for v in labels[:size] if v >= 0]
                # Counter keeps first-seen order, most_common is stable: ties -> nearest neighbour
                votes[size - 1, e, k] = Counter(valid).most_common(1)[0][0] if valid else fallback[k]
    return np.take_along_axis(agree, order, axis=1), order, votes


@pytest.mark.parametrize("n_questions,max_opt,missing", [(24, 4, 0.2), (12, 2, 0.1), (40, 8, 0.3)])
def test_faiss_neighbours_and_votes_match_brute_force(n_questions: int, max_opt: int, missing: float) -> None:
    rng = np.random.default_rng([n_questions, max_opt])
    n_opt = rng.integers(2, max_opt + 1, n_questions)
    answers = random_answers(rng, 700, n_opt, missing)
    queries, pool = np.arange(60), np.arange(60, 700)
    probes = np.array([1, 4, 7])
    features = non_probe_questions(n_questions, probes)
    n = 15
    ref_agree, ref_order, ref_votes = brute_force(answers, n_opt, queries, pool, features, probes, n)

    # blocks of three overlapping setups: the compared questions are a concatenation of blocks
    blocks = setup_blocks(n_questions, [np.array([0, 2, 9]), probes, np.array([0, 4, 5])])
    packed = PackedAnswers.from_answers(answers, n_opt, blocks)
    codes = setup_codes(packed, queries, pool, features)
    if n_questions == 40:  # many missing answers: dense and sparse database parts, merged exactly
        assert len(codes.parts) == 2
    agree, order = top_neighbours(codes, n, use_gpu=False, margin=1)  # tiny margin: exercises widening
    np.testing.assert_array_equal(agree, ref_agree)
    np.testing.assert_array_equal(order, ref_order)
    fallback = global_majority(answers[pool][:, probes], n_opt[probes])
    votes = vote_all_sizes(answers[np.ix_(pool, probes)][order], int(n_opt[probes].max()), fallback)
    np.testing.assert_array_equal(votes, ref_votes)


@pytest.mark.parametrize("masked", [False, True])
def test_seeded_ties_and_shown_features_match_brute_force(masked: bool) -> None:
    """Few questions with few options: many ties. Seeded tie order and per-person masks, against numpy."""
    rng = np.random.default_rng([11, masked])
    n_q = 14
    n_opt = rng.integers(2, 4, n_q)
    answers = random_answers(rng, 500, n_opt, 0.15)
    queries, pool = np.arange(40), np.arange(40, 500)
    probes = np.array([2, 5])
    features = non_probe_questions(n_q, probes)
    shown = rng.random((len(queries), n_q)) < 0.5 if masked else None
    compare = np.zeros((len(queries), n_q), dtype=bool)
    compare[:, features] = True
    if masked:
        compare &= shown
    a, b = answers[queries][:, None, :], answers[pool][None, :, :]
    agree = ((a == b) & (a >= 0) & compare[:, None, :]).sum(axis=2)
    keys = rng.integers(0, 2**63, 500).astype(np.uint64)
    ties = TieKeys(keys[queries], keys[pool], seed=3)
    prio = ties.priority(np.arange(len(queries)), np.tile(np.arange(len(pool)), (len(queries), 1)))
    n = 12
    ref = np.array(
        [
            sorted(range(len(pool)), key=lambda j: (-agree[e, j], int(prio[e, j]), int(keys[pool[j]])))[:n]
            for e in range(len(queries))
        ]
    )
    tied = np.mean([(agree[e, ref[e, n - 1]] == np.sort(agree[e])[::-1][n]) for e in range(len(queries))])
    assert tied > 0.3  # ties cross the cut for most people: the tie order decides who is in the cluster
    packed = PackedAnswers.from_answers(answers, n_opt, setup_blocks(n_q, [probes]))
    codes = setup_codes(packed, queries, pool, features, query_mask=shown)
    got_agree, got = top_neighbours(codes, n, use_gpu=False, margin=1, ties=ties)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got_agree, np.take_along_axis(agree, ref, axis=1))
    by_row = top_neighbours(codes, n, use_gpu=False, margin=1)[1]
    assert not np.array_equal(by_row, got)  # the keyed order is not the catalog-row order


def test_random_expectation_matches_published_polar_row() -> None:
    cb = load_codebook("wvs7")
    setups = probe_setups(cb)
    polar = [codebook_expected_accuracy(cb.n_options("polar"), s) for s in setups]
    refined = [codebook_expected_accuracy(cb.n_options("refined"), s) for s in setups]
    print(
        f"random expectation polar {np.round(polar, 2)} refined {np.round(refined, 2)} "
        "(paper refined row is one random draw: 29.16 / 29.03 / 25.43)"
    )
    np.testing.assert_allclose(polar, PUBLISHED_RANDOM_POLAR, atol=0.01)
    # the same through the per-person scoring of a catalog where everyone answered every probe
    n = 5
    answers = np.zeros((n, len(cb.questions)), dtype=np.int8)
    cat = Catalog(cb, np.arange(n), answers, answers.copy(), np.full((n, len(cb.demographic_columns)), -1, np.int32))
    got = expected_accuracy(cat, np.arange(n), dict(enumerate(setups)))
    np.testing.assert_allclose([got["polar"][s] for s in range(3)], PUBLISHED_RANDOM_POLAR, atol=0.01)
    np.testing.assert_allclose([got["refined"][s] for s in range(3)], refined, atol=1e-9)


def test_majority_never_predicts_missing() -> None:
    # missing is by far the most common "value" and options 1 and 2 tie: lowest index wins
    col = np.array([-1] * 50 + [1] * 3 + [2] * 3 + [0] * 1, dtype=np.int8)[:, None]
    assert global_majority(col, [3]).tolist() == [1]
    labels = np.array([[[-1, -1], [2, -1], [-1, -1], [1, -1]]], dtype=np.int8)  # [E=1, N=4, K=2]
    votes = vote_all_sizes(labels, 3, fallback=np.array([0, 2]))
    assert votes[:, 0, 0].tolist() == [0, 2, 2, 2]  # no vote yet -> fallback; tie 2 vs 1 -> nearest (2)
    assert votes[:, 0, 1].tolist() == [2, 2, 2, 2]  # nobody answered -> pool majority, never -1
    assert (votes >= 0).all()


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Catalog, Path]:
    cb = load_codebook("wvs7")
    rng = np.random.default_rng(7)
    n = 400
    n_ref = np.asarray(cb.n_options("refined"))
    refined = random_answers(rng, n, n_ref, 0.05)
    # most people answered every probe question (eligible for evaluation), like the real survey
    probes = np.unique(np.concatenate(probe_setups(cb)))
    fill = refined[:300][:, probes]
    refined[:300, probes] = np.where(fill < 0, rng.integers(0, n_ref[probes]), fill).astype(np.int8)
    polar = polar_of(cb, refined)
    demos = np.full((n, len(cb.demographic_columns)), -1, dtype=np.int32)
    country = cb.demographic_columns.index(cb.dimensions["Country"].column)
    sex = cb.demographic_columns.index(cb.dimensions["Sex"].column)
    demos[:, country] = rng.choice(sorted(cb.dimensions["Country"].values)[:4], n)
    demos[:, sex] = rng.choice(sorted(cb.dimensions["Sex"].values), n)
    cat = Catalog(cb, np.arange(1000, 1000 + n), polar, refined, demos)
    path = write_catalog(cat, tmp_path_factory.mktemp("cat") / "small", source="test")
    return cat, path


def test_bad_input_errors(small_catalog: tuple[Catalog, Path]) -> None:
    cat, _ = small_catalog
    setups = probe_setups(cat.codebook)
    with pytest.raises(ValueError, match="larger than the catalog's population"):
        choose_split(cat, setups, size=len(cat) + 1, rule="stratified")
    with pytest.raises(ValueError, match="not defined by codebook"):
        check_config(cat, BaselineConfig(dimensions=["Country", "Shoe size"]))
    with pytest.raises(ValueError, match="--n_cluster"):
        check_config(cat, BaselineConfig(max_n=10, n_cluster=24))
    with pytest.raises(ValueError, match="larger than the pool"):
        resemble_votes(cat, np.arange(5), np.arange(5, 25), {0: setups[0]}, max_n=35, progress=False)
    with pytest.raises(ValueError, match="pool size"):
        sample_pool(np.arange(100), 1600, seed=0)
    # a catalog lacking a probe question: nobody answered it
    q = int(setups[0][0])
    broken = cat.subset(np.arange(len(cat)))
    broken.polar = broken.polar.copy()
    broken.polar[:, q] = -1
    with pytest.raises(ValueError, match=cat.codebook.question_ids[q]):
        pool_majority(broken, np.arange(len(cat)), "polar", setups[0])
    broken.refined = broken.refined.copy()
    broken.refined[:, q] = -1
    with pytest.raises(ValueError, match="lacks probe question"):
        choose_split(broken, setups, size=10, rule="stratified", min_valid=50)


def test_cli_end_to_end(small_catalog: tuple[Catalog, Path], tmp_path: Path) -> None:
    _, path = small_catalog
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "baselines",
        "--data.catalog",
        str(path),
        "--out",
        str(out),
        "--data.split_rule",
        "stratified",
        "--data.split_size",
        "40",
        "--data.min_valid",
        "100",
        "--pools",
        "[150, all]",
        "--max_n",
        "8",
        "--n_cluster",
        "5",
        "--bootstrap",
        "10",
        "--dimensions",
        "[Country, Sex]",
        "--published",
        "--plot",
        "--progress",
        "false",
        "--use_gpu",
        "false",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Resemble (all, top cluster)" in proc.stdout and "(paper)" in proc.stdout
    data = json.loads((out / "table.json").read_text())
    row = data["methods"]["Resemble (150, top cluster)"]["ours"]
    assert len(row["polar"]) == 3 and 0 <= row["all"] <= 100
    assert data["methods"]["Random"]["paper"]["polar"] == list(PUBLISHED_RANDOM_POLAR)
    assert len(data["sweep"]["all"]) == 8
    csv_lines = (out / "table.csv").read_text().splitlines()
    assert csv_lines[0].startswith("method,source,polar P0")
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert "n_sweep.png" in pngs and any(p.startswith("per_group_") for p in pngs)
    # bad input through the CLI: a clear message and exit code 2, nothing written
    bad = subprocess.run(
        cmd[:-6] + ["--dimensions", "[Shoe size]", "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Shoe size" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_resemble_independent_of_catalog_row_order(small_catalog: tuple[Catalog, Path]) -> None:
    """The same people with their catalog rows shuffled: identical Resemble figures, per country too."""
    base, _ = small_catalog
    country = base.demographic_codes(base.codebook.dimensions["Country"].id)
    cat = base.subset(np.argsort(country, kind="stable"))  # people ordered by country, as in the WVS file
    perm = np.random.default_rng(1).permutation(len(cat))
    shuffled = cat.subset(perm)
    config = BaselineConfig(
        pools=("all", "150"),
        max_n=8,
        n_cluster=8,
        bootstrap=0,
        progress=False,
        dimensions=["Country"],
        use_gpu=False,
        threads=1,
    )
    out, people = [], []
    for c in (cat, shuffled):
        split = choose_split(c, probe_setups(c.codebook), size=40, rule="stratified", min_valid=100)
        people.append(sorted(c.person_ids[split.eval_rows].tolist()))
        out.append(run_baselines(c, split, config))
    assert people[0] == people[1]  # the split is keyed on person ids too
    for name, row in out[0].rows.items():
        other = out[1].rows[name]
        flat = lambda r: [v for key in sorted(r) for v in np.ravel(r[key])]  # noqa: E731
        assert flat(row) == pytest.approx(flat(other), abs=1e-9), name
        if name.startswith("Resemble"):
            for form, dims in out[0].reports[name].per_group_by_form.items():
                assert dims["Country"] == pytest.approx(
                    out[1].reports[name].per_group_by_form[form]["Country"], abs=1e-9
                ), (name, form)
    # the shuffle matters without keyed ties: catalog-row tie order changes who the neighbours are
    from baselines.resemble import pack_forms

    setups = {0: probe_setups(cat.codebook)[0]}
    split = choose_split(cat, list(setups.values()), size=40, rule="stratified", min_valid=100)
    pool = np.asarray(split.train_rows)
    codes = setup_codes(
        pack_forms(cat, setups)["polar"],
        split.eval_rows,
        pool,
        non_probe_questions(len(cat.codebook.questions), setups[0]),
    )
    back = setup_codes(
        pack_forms(cat, setups)["polar"],
        split.eval_rows,
        pool[::-1],
        non_probe_questions(len(cat.codebook.questions), setups[0]),
    )
    plain, rev = top_neighbours(codes, 8, use_gpu=False)[1], top_neighbours(back, 8, use_gpu=False)[1]
    assert not np.array_equal(np.sort(pool[plain], 1), np.sort(pool[::-1][rev], 1))


def test_resemble_on_shown_demonstrations(small_catalog: tuple[Catalog, Path]) -> None:
    """features=shown: with every candidate shown it equals the non-probe rule; with 20 shown it differs."""
    cat, _ = small_catalog
    split = choose_split(cat, probe_setups(cat.codebook), size=30, rule="stratified", min_valid=100)
    common = dict(
        pools=("all",), max_n=5, n_cluster=5, bootstrap=0, progress=False, use_gpu=False, threads=1, setups=(0, 1)
    )
    name = "Resemble (all, top cluster)"
    base = run_baselines(cat, split, BaselineConfig(**common)).rows[name]
    everything = run_baselines(cat, split, BaselineConfig(**common, features="shown", demo_count="253")).rows[name]
    few = run_baselines(cat, split, BaselineConfig(**common, features="shown", demo_count="20"))
    assert everything == base and few.rows[name] != base
    assert "the person's shown demonstrations" in few.info["convention"]
    with pytest.raises(ValueError, match="--features"):
        check_config(cat, BaselineConfig(features="some"))


def _two_class_catalog(n: int = 120) -> Catalog:
    """Half the people answer the first refined option of every question, half the last (nothing missing)."""
    cb = load_codebook("wvs7")
    n_ref = np.asarray(cb.n_options("refined"))
    first = np.arange(n) % 2 == 0
    refined = np.where(first[:, None], 0, n_ref[None, :] - 1).astype(np.int8)
    polar = polar_of(cb, refined)
    demos = np.full((n, len(cb.demographic_columns)), -1, dtype=np.int32)
    return Catalog(cb, np.arange(500, 500 + n), polar, refined, demos)


def test_latent_classes_recover_two_answer_profiles() -> None:
    """Two deterministic profiles: EM finds them (shares 1/2, smoothed probabilities as computed by hand) and
    predicts every probe of a new person from 20 shown demonstrations."""
    from baselines.latent_class import fit_latent_class, latent_class_predictions
    from ivr.metrics.report import evaluate_predictions

    cat = _two_class_catalog()
    train, test = np.arange(20, 120), np.arange(20)
    model = fit_latent_class(cat, train, n_classes=2, iters=40, smoothing=0.5, progress_bar=False)
    assert np.exp(model.marginal_logprior) == pytest.approx([0.5, 0.5], abs=1e-6)  # (50 + 1) / (100 + 2)
    refined = model.option_probs("refined")  # [K, Q, O]
    n_opt = len(cat.codebook.questions[0].refined)
    # question 0: 50 people of a class on one option, plus 0.5 on each of its options
    expected_hit, expected_miss = 50.5 / (50 + 0.5 * n_opt), 0.5 / (50 + 0.5 * n_opt)
    first_class = int(np.argmax(refined[:, 0, 0]))
    assert refined[first_class, 0, 0] == pytest.approx(expected_hit, abs=1e-6)
    assert refined[1 - first_class, 0, 0] == pytest.approx(expected_miss, abs=1e-6)
    assert refined[1 - first_class, 0, n_opt - 1] == pytest.approx(expected_hit, abs=1e-6)
    setups = {0: probe_setups(cat.codebook)[0]}
    preds = latent_class_predictions(cat, train, test, setups, 2, 20, seed=0, iters=40, progress_bar=False)
    row = evaluate_predictions(preds, cat, dimensions=[], bootstrap=0).table3_row()
    assert row["polar"][0] == pytest.approx(100.0) and row["refined"][0] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="fewer classes"):
        fit_latent_class(cat, train[:3], n_classes=4, progress_bar=False)
    for bad in (-1, len(cat) + 1):
        with pytest.raises(ValueError, match="--latent_classes"):
            check_config(cat, BaselineConfig(latent_classes=bad))


def test_latent_class_row_independent_of_catalog_row_order(small_catalog: tuple[Catalog, Path]) -> None:
    """The latent class row is fitted on the training people keyed by id: shuffled catalog rows, same figures;
    it is no worse than the global majority on these correlated answers."""
    cat, _ = small_catalog
    shuffled = cat.subset(np.random.default_rng(3).permutation(len(cat)))
    config = BaselineConfig(
        pools=("all",),
        max_n=4,
        n_cluster=4,
        bootstrap=0,
        progress=False,
        dimensions=[],
        use_gpu=False,
        threads=1,
        latent_classes=3,
    )
    rows = []
    for c in (cat, shuffled):
        split = choose_split(c, probe_setups(c.codebook), size=40, rule="stratified", min_valid=100)
        rows.append(run_baselines(c, split, config).rows)
    name = "Latent classes (3, EM)"
    assert rows[0][name]["all"] == pytest.approx(rows[1][name]["all"], abs=1e-9)
    assert rows[0][name]["polar"] == pytest.approx(rows[1][name]["polar"], abs=1e-9)
    assert rows[0][name]["all"] > rows[0]["Global (majority vote)"]["all"]
