"""Metrics: accuracy (eqs. 1-2), sigma_INEQUITY, bootstrap, calibration, distributed sync, report."""

from __future__ import annotations

import json
import math
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest

from ivr.catalog.codebook import load_codebook
from ivr.catalog.store import Catalog
from ivr.metrics import (
    Predictions,
    brier_score,
    evaluate_predictions,
    expected_calibration_error,
    group_accuracy,
    inequity_index,
    person_scores,
    plot_per_group,
    summarize,
)
from ivr.paper import load_paper


def preds_from(rows: list[tuple[int, int, int, int, int, int]], probs=None) -> Predictions:
    person, setup, form, question, pred, target = (np.array(c) for c in zip(*rows))
    return Predictions(person, setup, form, question, pred, target, probs)


def test_accuracy_per_person_then_people():
    # person 0: 1/1 correct; person 1: 1/3 correct, one unanswered probe, one parse failure
    p = preds_from(
        [
            (0, 0, 0, 5, 1, 1),
            (1, 0, 0, 5, 0, 0),
            (1, 0, 0, 6, -1, 1),
            (1, 0, 0, 7, 1, 0),
            (1, 0, 0, 8, 1, -1),
        ]
    )
    s = summarize(p)
    assert s["polar/p0"] == pytest.approx((1.0 + 1 / 3) / 2 * 100)  # not the pooled 2/4
    assert s["n_unscored"] == 1 and s["n_parse_failures"] == 1 and s["n_people"] == 2
    # repeated keys (sampler padding) and row order do not change anything
    doubled = Predictions.concat([p, p.select(np.array([4, 2, 0]))])
    assert summarize(doubled.select(np.arange(len(doubled))[::-1])) == s


def test_table3_layout():
    rows = [(i, s, f, 0, int(i % (s + 2) == 0), 0) for i in range(12) for s in range(3) for f in range(2)]
    s = summarize(preds_from(rows))
    assert s["polar_avg"] == pytest.approx(np.mean([s[f"polar/p{k}"] for k in range(3)]))
    assert s["all"] == pytest.approx((s["polar_avg"] + s["refined_avg"]) / 2)


def _groups_case() -> tuple[Predictions, dict[str, np.ndarray]]:
    """Six people, two setups; per-person accuracies chosen so groups are exactly 60 / 80 / 70."""
    accs = {0: (0.5, 0.7), 1: (0.6, 0.6), 2: (0.8, 0.8), 3: (0.9, 0.7), 4: (0.7, 0.7), 5: (0.7, 0.7)}
    rows = []
    for person, per_setup in accs.items():
        for setup, a in enumerate(per_setup):
            k = round(a * 10)
            rows += [(person, setup, 0, q, 0 if q < k else 1, 0) for q in range(10)]
    groups = {
        "three": np.array(["A", "A", "B", "B", "C", "C"], dtype=object),
        "two": np.array(["x", "y", "x", "y", "x", None], dtype=object),
    }
    return preds_from(rows), groups


def test_inequity_hand_case():
    preds, groups = _groups_case()
    scores = person_scores(preds)
    accs, sizes = group_accuracy(scores, groups["three"], form=0)
    assert accs == pytest.approx({"A": 60.0, "B": 80.0, "C": 70.0}) and sizes == {"A": 2, "B": 2, "C": 2}
    two, _ = group_accuracy(scores, groups["two"], form=0)  # person 5 (missing) excluded
    assert two == pytest.approx({"x": (60 + 80 + 70 + 70 + 70 + 70) / 6, "y": (60 + 60 + 90 + 70) / 4})
    index, per_dim = inequity_index({"three": accs, "two": two})
    assert per_dim["three"] == pytest.approx(10.0)  # sample std (ddof=1) of 60, 80, 70
    assert per_dim["two"] == pytest.approx(abs(70 - 70) / math.sqrt(2))
    assert index == pytest.approx(5.0)
    assert summarize(preds, groups)["inequity/polar"] == pytest.approx(5.0)
    # min_group_size: only groups with >= 5 people remain ("x"), so dimension "two" has no sigma
    index_min, per_dim_min = inequity_index(
        {d: group_accuracy(scores, g, 0, min_group_size=5)[0] for d, g in groups.items()}
    )
    assert math.isnan(per_dim_min["two"]) and math.isnan(per_dim_min["three"]) and math.isnan(index_min)


def test_calibration_hand_cases():
    assert brier_score(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1])) == 0.0
    assert brier_score(np.array([[0.8, 0.2, np.nan]]), np.array([1])) == pytest.approx(1.28)
    assert expected_calibration_error(np.array([[0.8, 0.2]]), np.array([1])) == pytest.approx(0.8)
    # same bin (conf 0.6), accuracy 0.5 -> 0.1; plus a perfectly calibrated confident row
    probs = np.array([[0.6, 0.4], [0.6, 0.4], [1.0, 0.0], [np.nan, np.nan]])
    assert expected_calibration_error(probs, np.array([0, 1, 0, 1])) == pytest.approx(2 / 3 * 0.1)
    assert brier_score(np.array([[2.0, 2.0]]), np.array([0])) == pytest.approx(0.5)  # renormalised


def _catalog(n: int, seed: int = 0) -> Catalog:
    cb = load_codebook("wvs7")
    rng = np.random.default_rng(seed)
    answers = np.zeros((n, len(cb.questions)), dtype=np.int8)
    demos = np.full((n, len(cb.demographic_columns)), -1, dtype=np.int32)
    demos[:, cb.demographic_columns.index("Q260")] = rng.integers(1, 3, n)
    demos[:, cb.demographic_columns.index("X003R")] = rng.integers(1, 7, n)
    demos[:, cb.demographic_columns.index("B_COUNTRY")] = rng.choice([36, 76, 276, 356, 840], n)
    return Catalog(cb, np.arange(n) + 100, answers, answers.copy(), demos)


def _random_preds(n_people: int, seed: int = 0, probs: bool = True) -> Predictions:
    rng = np.random.default_rng(seed)
    person, setup, form, question = (
        a.reshape(-1)
        for a in np.meshgrid(np.arange(n_people), np.arange(3), np.arange(2), np.arange(10), indexing="ij")
    )
    target = rng.integers(0, 3, len(person))
    target[rng.random(len(person)) < 0.05] = -1
    skill = rng.random(n_people)[person]
    pred = np.where(rng.random(len(person)) < skill, target, rng.integers(0, 3, len(person)))
    pred[rng.random(len(person)) < 0.02] = -1
    p = None
    if probs:
        p = rng.dirichlet(np.ones(3), len(person))
        p = np.concatenate([p, np.full((len(person), 5), np.nan)], axis=1)
    return Predictions(person, setup, form, question + 20 * setup, pred, target, p)


def test_report_and_bootstrap(tmp_path):
    cat = _catalog(120)
    preds = _random_preds(120)
    report = evaluate_predictions(preds, cat, dimensions=["Sex", "Age", "Country", "Continent"], bootstrap=300, seed=1)
    row = report.table3_row()
    assert set(row) == set(load_paper()["table3_methods"]["Random"])  # the packaged copy: runs in any clone
    summary = summarize(preds)
    assert row["polar"] == pytest.approx([summary[f"polar/p{s}"] for s in range(3)])
    assert row["all"] == pytest.approx(summary["all"])
    for key, point in [
        ("polar/p1", row["polar"][1]),
        ("refined_avg", row["refined_avg"]),
        ("all", row["all"]),
        ("inequity/polar", report.inequity["index"]),
    ]:
        lo, hi = report.ci[key]
        assert lo <= point <= hi and hi - lo > 0
    again = evaluate_predictions(preds, cat, dimensions=["Sex", "Age", "Country", "Continent"], bootstrap=300, seed=1)
    other = evaluate_predictions(preds, cat, dimensions=["Sex", "Age", "Country", "Continent"], bootstrap=300, seed=2)
    assert again.ci == report.ci and other.ci != report.ci
    assert set(report.per_group["Sex"]) == {"male", "female"} and report.inequity["form"] == "polar"
    assert report.counts["polar"]["unscored"] == int(((preds.form == 0) & (preds.target < 0)).sum())
    assert 0 <= report.calibration["refined"]["ece"] <= 1 and len(report.by_category["polar"]) >= 1
    data = json.loads(report.to_json(tmp_path / "report.json"))
    assert data["table3_row"]["all"] == pytest.approx(row["all"])
    assert plot_per_group(report, tmp_path / "groups.png").stat().st_size > 1000
    # a small group's percentile interval may lie wholly above or below its point estimate
    key = next(k for k in report.ci if k.startswith("group/polar/Sex/"))
    report.ci[key] = (report.per_group["Sex"][key.rsplit("/", 1)[1]] + 1.0, 100.0)
    assert plot_per_group(report, tmp_path / "groups_off.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="not defined by codebook"):
        evaluate_predictions(preds, cat, dimensions=["Shoe size"], bootstrap=0)


def test_bootstrap_unit_weights_reproduce_point_estimates(monkeypatch):
    import ivr.metrics.bootstrap as bootstrap

    preds, groups = _groups_case()
    preds = Predictions.concat([preds, preds.select(np.arange(len(preds)))])
    preds.form[len(preds) // 2 :] = 1
    monkeypatch.setattr(bootstrap, "_draw_counts", lambda rng, n, b: np.ones((b, n)))
    ci = bootstrap.bootstrap_ci(person_scores(preds.canonical()), groups, n_boot=4)
    point = summarize(preds, groups)
    for key in ("polar/p0", "refined/p1", "polar_avg", "all", "inequity/polar", "inequity/refined"):
        assert ci[key] == pytest.approx((point[key], point[key]))


# ---- distributed: the same predictions on 2 gloo ranks vs one process ------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch
    import torch.distributed as dist

    from ivr.metrics.accuracy import ValueMetrics

    torch.set_num_threads(1)  # no OpenMP pools in a forked child
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        preds, groups = _sync_case()
        metric = ValueMetrics(groups=groups)
        # uneven, interleaved shards, fed in two batches each
        on_rank0 = np.arange(len(preds)) % 3 == 0
        shard = np.flatnonzero(on_rank0 if rank == 0 else ~on_rank0)
        for part in np.array_split(shard, 2):
            _update(metric, preds.select(part))
        result = metric.compute()
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
        # a rank that saw no rows at all must still sync
        lonely = ValueMetrics(groups=groups)
        if rank == 0:
            _update(lonely, preds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "compute before update" on rank 1
            Path(out_dir, f"lonely{rank}.json").write_text(json.dumps(lonely.compute()))
    finally:
        dist.destroy_process_group()


def _update(metric, p: Predictions) -> None:
    import torch

    cols = (torch.from_numpy(getattr(p, k)) for k in ("person", "setup", "form", "question", "pred", "target"))
    metric.update(*cols, probs=torch.from_numpy(p.probs))


def _sync_case() -> tuple[Predictions, dict[str, np.ndarray]]:
    cat = _catalog(40, seed=3)
    return _random_preds(40, seed=5), {"Sex": cat.groups("Sex"), "Age": cat.groups("Age")}


@pytest.mark.slow
def test_distributed_sync_matches_single_process(tmp_path):
    import torch.multiprocessing as mp

    from ivr.metrics.accuracy import ValueMetrics

    preds, groups = _sync_case()
    single = ValueMetrics(groups=groups)
    order = np.random.default_rng(0).permutation(len(preds))  # a different row order, one batch
    _update(single, preds.select(order))
    expected = single.compute()
    assert {"polar/p0", "all", "inequity/polar", "brier/refined", "ece/polar"} <= set(expected)
    # fork (not spawn) where available: the children inherit the imported torch/torchmetrics
    # instead of re-importing them (~10 s each on a busy 2-core machine); same code path otherwise
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(_rank_main, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True, start_method=method)
    for rank in range(2):
        assert json.loads((tmp_path / f"rank{rank}.json").read_text()) == expected
        assert json.loads((tmp_path / f"lonely{rank}.json").read_text()) == expected


def test_bootstrap_draws_follow_person_ids():
    """The same people in other catalog rows (ids given) get the same draws: identical intervals."""
    from dataclasses import replace

    from ivr.metrics import bootstrap_ci

    preds = _random_preds(60)
    ids = np.arange(60) * 7 + 1000
    perm = np.random.default_rng(3).permutation(60)  # row r of the shuffled catalog holds person perm[r]
    moved = replace(preds, person=np.argsort(perm)[preds.person])
    first = bootstrap_ci(person_scores(preds.canonical()), n_boot=200, ids=ids)
    assert bootstrap_ci(person_scores(moved.canonical()), n_boot=200, ids=ids[perm]) == first


def test_shuffled_catalog_rows_give_identical_points_and_intervals(small_catalog_dir, tmp_path):
    """The bootstrap resamples people keyed on their ids: the baselines on a real catalog and on the same catalog
    with its rows shuffled write identical figures, intervals included (every float, not just to a tolerance)."""
    import os
    import subprocess
    import sys

    from ivr.catalog.store import load_catalog, write_catalog

    catalog = load_catalog(small_catalog_dir)
    shuffled = write_catalog(
        catalog.subset(np.random.default_rng(7).permutation(len(catalog))),
        tmp_path / "shuffled",
        source="rows shuffled",
    )
    root = Path(__file__).resolve().parents[1]
    tables = []
    for name, folder in (("rows", small_catalog_dir), ("shuffled", shuffled)):
        out = tmp_path / f"out_{name}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "baselines",
                "--data.catalog",
                str(folder),
                "--data.split_size",
                "100",
                "--bootstrap",
                "200",
                "--max_n",
                "3",
                "--n_cluster",
                "3",
                "--pools",
                "[all]",
                "--out",
                str(out),
            ],
            cwd=root,
            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        tables.append(json.loads((out / "table.json").read_text()))
    rows, again = tables
    assert rows["info"]["n_eval"] == again["info"]["n_eval"] == 100
    report = rows["methods"]["Global (majority vote)"]["report"]
    assert report["ci"]["all"][0] < report["table3_row"]["all"] < report["ci"]["all"][1]

    def figures(node):  # every figure; CPU-seconds are measurements of this run, not results
        if isinstance(node, dict):
            return {k: figures(v) for k, v in node.items() if not k.endswith("cpu_seconds")}
        return [figures(v) for v in node] if isinstance(node, list) else node

    assert figures({k: v for k, v in rows.items() if k != "info"}) == figures(
        {k: v for k, v in again.items() if k != "info"}
    )
