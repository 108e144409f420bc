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
from baselines.neighbours import top_neighbours
from baselines.random import codebook_expected_accuracy, expected_accuracy
from baselines.resemble import non_probe_questions, resemble_votes, sample_pool
from baselines.run import BaselineConfig, check_config, choose_split
from baselines.voting import vote_all_sizes
from ivr.catalog.codebook import load_codebook
from ivr.catalog.store import Catalog, write_catalog
from ivr.data.probes import probe_setups

PUBLISHED_RANDOM_POLAR = (46.37, 45.51, 44.23)


def random_answers(rng: np.random.Generator, people: int, n_opt: np.ndarray, missing: float) -> np.ndarray:
    """Correlated random option indices (-1 missing) so that neighbours and ties are realistic."""
    latent = rng.normal(size=(people, 2)) @ rng.normal(size=(2, len(n_opt)))
    frac = 1 / (1 + np.exp(-(latent + rng.normal(size=latent.shape))))
    ans = np.minimum((frac * n_opt).astype(np.int8), (n_opt - 1).astype(np.int8))
    ans[rng.random(ans.shape) < missing] = -1
    return ans


def brute_force(answers: np.ndarray, n_opt: np.ndarray, queries: np.ndarray, pool: np.ndarray,
                features: np.ndarray, probes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def test_random_expectation_matches_published_polar_row() -> None:
    cb = load_codebook("wvs7")
    setups = probe_setups(cb)
    polar = [codebook_expected_accuracy(cb.n_options("polar"), s) for s in setups]
    refined = [codebook_expected_accuracy(cb.n_options("refined"), s) for s in setups]
    print(f"random expectation polar {np.round(polar, 2)} refined {np.round(refined, 2)} "
          "(paper refined row is one random draw: 29.16 / 29.03 / 25.43)")
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
    polar = np.full_like(refined, -1)
    for q, question in enumerate(cb.questions):
        to_polar = [next(j for j, p in enumerate(question.polar) if set(o.codes) & set(p.codes))
                    for o in question.refined]
        ok = refined[:, q] >= 0
        polar[ok, q] = np.asarray(to_polar, dtype=np.int8)[refined[ok, q]]
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
    cmd = [sys.executable, "-m", "baselines", "--data.catalog", str(path), "--out", str(out), "--data.split_rule",
           "stratified", "--data.split_size", "40", "--data.min_valid", "100", "--pools", "[150, all]", "--max_n", "8",
           "--n_cluster", "5", "--bootstrap", "10", "--dimensions", "[Country, Sex]", "--published", "--plot",
           "--progress", "false", "--use_gpu", "false"]
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
    bad = subprocess.run(cmd[:-6] + ["--dimensions", "[Shoe size]", "--out", str(tmp_path / "bad")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Shoe size" in bad.stderr
    assert not (tmp_path / "bad").exists()
