"""Distributional fit per group: hand-computed W1 / JS on a tiny case, and 2-rank gloo sync == 1 process."""

from __future__ import annotations

import json
import math
import socket
from pathlib import Path

import numpy as np
import pytest

from ivr.catalog.codebook import load_codebook
from ivr.metrics import Predictions
from ivr.metrics.distribution import GroupIndex, distribution_fit, option_counts, ordered_questions

CB = load_codebook("wvs7")
Q1 = CB.question_index["Q1"]  # mc_4: ordered, 4 refined options
Q252 = CB.question_index["Q252"]  # mc_10: unordered, 4 refined options


def _probs(*rows: list[float]) -> np.ndarray:
    out = np.full((len(rows), 8), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _hand_case() -> tuple[Predictions, dict[str, np.ndarray]]:
    # refined form; people 0, 1 in group "a", person 2 in "b", person 3 without a group
    person = np.array([0, 1, 0, 1, 2, 3])
    question = np.array([Q1, Q1, Q252, Q252, Q1, Q1])
    target = np.array([0, 1, 0, 0, 3, 2])
    probs = _probs([1, 0, 0, 0], [0, 0, 0, 1], [0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 2], [0, 0, 1, 0])
    n = len(person)
    preds = Predictions(person, np.zeros(n), np.ones(n), question, probs.argmax(axis=1) * 0, target, probs)
    return preds, {"G": np.array(["a", "a", "b", None], dtype=object)}


def test_ordered_rule_follows_codebook_types():
    ordered = ordered_questions(CB)
    assert ordered[Q1] and not ordered[Q252]
    assert option_counts(CB)[1, Q1] == 4 and option_counts(CB)[0, Q1] == 2


def test_hand_computed_w1_and_js():
    preds, groups = _hand_case()
    fit = distribution_fit(preds, groups, 4, CB)["refined"]
    # group a, Q1: predicted mean [.5, 0, 0, .5] vs observed [.5, .5, 0, 0]
    # CDFs [.5, .5, .5] vs [.5, 1, 1] -> W1 = 1.0 option steps, / (4 - 1)
    w1_a = 1.0 / 3
    # group b, Q1: predicted [0, 0, 0, 1] (renormalised from 2) vs observed [0, 0, 0, 1] -> 0
    # G summary: answer-weighted mean over (a, Q1) with 2 answers and (b, Q1) with 1
    assert fit["G"]["w1"] == pytest.approx((2 * w1_a + 1 * 0.0) / 3)
    # group a, Q252: predicted [.5, .5] vs observed [1, 0]; m = [.75, .25]
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_o = math.log2(1 / 0.75)
    assert fit["G"]["js"] == pytest.approx((kl_p + kl_o) / 2)
    assert fit["G"]["groups"] == 2 and fit["G"]["answers"] == 5
    # 'all' = every person, person 3 included: Q1 predicted [1, 0, 1, 2]/4 vs observed [1, 1, 1, 1]/4
    cdf_gap = np.abs(np.cumsum(np.array([1, 0, 1, 2]) / 4 - np.array([1, 1, 1, 1]) / 4))[:-1].sum()
    assert fit["all"]["w1"] == pytest.approx(cdf_gap / 3)
    assert "polar" not in distribution_fit(preds, groups, 4, CB)  # no polar rows, no polar figures


def test_perfect_prediction_scores_zero():
    preds, groups = _hand_case()
    onehot = np.full_like(preds.probs, np.nan)
    onehot[:, :4] = np.eye(4)[preds.target]
    exact = Predictions(preds.person, preds.setup, preds.form, preds.question, preds.target, preds.target, onehot)
    fit = distribution_fit(exact, groups, 4, CB)["refined"]
    assert fit["G"]["w1"] == 0.0 and fit["G"]["js"] == 0.0 and fit["all"]["w1"] == 0.0


def test_group_index_cells():
    index = GroupIndex.build({"G": np.array(["b", None, "a"], dtype=object)}, 3)
    assert index.names == (("all", "all"), ("G", "a"), ("G", "b"))
    assert index.rows.tolist() == [[0, 0, 0], [2, -1, 1]]


# ---- the torchmetrics version: 2 gloo ranks vs one process ---------------------------------------


def _sync_case() -> tuple[Predictions, dict[str, np.ndarray]]:
    rng = np.random.default_rng(4)
    n_people, n = 30, 900
    person = rng.integers(0, n_people, n)
    form = rng.integers(0, 2, n)
    question = rng.choice([Q1, Q252, 0, 5], n)
    n_opt = option_counts(CB)[form, question]
    target = (rng.random(n) * n_opt).astype(np.int64)
    target[rng.random(n) < 0.05] = -1
    probs = np.full((n, 8), np.nan)
    for i in range(n):
        probs[i, : n_opt[i]] = rng.dirichlet(np.ones(n_opt[i]))
    groups = {
        "G": rng.choice(np.array(["x", "y", "z", None], dtype=object), n_people),
        "H": rng.choice(np.array(["u", "v"], dtype=object), n_people),
    }
    return Predictions(person, np.zeros(n), form, question, target, target, probs), groups


def _update(metric, p: Predictions) -> None:
    import torch

    metric.update(
        *(torch.from_numpy(getattr(p, k)) for k in ("person", "form", "question", "target")),
        probs=torch.from_numpy(p.probs),
    )


def _metric(groups):
    from ivr.metrics.distribution_metric import GroupDistribution

    return GroupDistribution(groups, 30, ordered_questions(CB), option_counts(CB))


def _rank_main(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        preds, groups = _sync_case()
        metric = _metric(groups)
        shard = np.flatnonzero((np.arange(len(preds)) % 3 == 0) == (rank == 0))  # uneven, interleaved
        for part in np.array_split(shard, 2):
            _update(metric, preds.select(part))
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(metric.compute()))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metric_matches_numpy_and_two_ranks(tmp_path):
    import torch.multiprocessing as mp

    preds, groups = _sync_case()
    single = _metric(groups)
    _update(single, preds.select(np.random.default_rng(1).permutation(len(preds))))
    expected = single.compute()
    numpy_fit = distribution_fit(preds, groups, 30, CB)
    for form in ("polar", "refined"):
        for dim in ("all", "G", "H"):
            assert expected[f"distfit_{form}/{dim}_w1"] == pytest.approx(numpy_fit[form][dim]["w1"])
            assert expected[f"distfit_{form}/{dim}_js"] == pytest.approx(numpy_fit[form][dim]["js"])
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(_rank_main, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True, start_method=method)
    for rank in range(2):
        synced = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert synced.keys() == expected.keys()
        assert synced == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_width_of_the_probability_rows_does_not_matter():
    """Rows as wide as the batch's widest probe (4 here) or wider than the codebook's widest question give
    the same figures: the option axis follows the codebook, not a fixed cap."""
    preds, groups = _hand_case()
    narrow = Predictions(
        preds.person, preds.setup, preds.form, preds.question, preds.pred, preds.target, preds.probs[:, :4]
    )
    wide_probs = np.full((len(preds), int(option_counts(CB).max()) + 3), np.nan)
    wide_probs[:, :8] = preds.probs
    wide = Predictions(preds.person, preds.setup, preds.form, preds.question, preds.pred, preds.target, wide_probs)
    ref = distribution_fit(preds, groups, 4, CB)
    for other in (narrow, wide):
        fit = distribution_fit(other, groups, 4, CB)
        assert fit.keys() == ref.keys()
        for form in ref:
            for dim in ref[form]:
                for key, value in ref[form][dim].items():
                    assert fit[form][dim][key] == pytest.approx(value, nan_ok=True)
