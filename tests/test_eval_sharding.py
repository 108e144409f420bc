"""Evaluation sharded over ranks: disjoint shares that cover the set, equal batch counts, metrics equal to one process's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ivr.data.datasets import EvalShardSampler, PaddedEval

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "scripts" / "eval_shard_worker.py"


@pytest.mark.parametrize(("n", "world"), [(15, 2), (16, 2), (7, 3), (1, 2), (0, 2)])
def test_shards_are_disjoint_cover_everything_and_have_equal_length(n, world):
    shares = [list(EvalShardSampler(n, rank, world)) for rank in range(world)]
    assert len({len(s) for s in shares}) == 1 and all(len(s) == -(-n // world) for s in shares)
    real = [i for s in shares for i, pad in s if not pad]
    assert sorted(real) == list(range(n))  # disjoint and complete
    assert sum(pad for s in shares for _, pad in s) == len(shares[0]) * world - n


def test_padding_entries_mask_every_probe():
    item = {
        "answer_positions": np.array([5, 9]),
        "labels": np.array([1, 0]),
        "input_ids": np.arange(10),
        "option_spans": [np.array([[3, 4], [4, 5]])],
    }
    ds = PaddedEval([item])
    assert ds[(0, False)] is item and ds[0] is item
    pad = ds[(0, True)]
    assert (
        (pad["answer_positions"] == -1).all() and (pad["labels"] == -1).all() and (pad["option_spans"][0] == -1).all()
    )
    assert (pad["input_ids"] == item["input_ids"]).all() and (item["labels"] == [1, 0]).all()  # the original is kept


def _run(args: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.mark.slow
def test_two_ranks_score_disjoint_halves_and_match_one_process(tmp_path):
    from ivr.metrics import Predictions

    work = tmp_path / "work"
    _run([sys.executable, str(WORKER), str(tmp_path / "one"), str(work)])
    _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(WORKER),
            str(tmp_path / "two"),
            str(work),
        ]
    )
    one = np.load(tmp_path / "one" / "rank0.npz")
    r0, r1 = (np.load(tmp_path / "two" / f"rank{r}.npz") for r in (0, 1))
    everything = {tuple(x) for x in one["items"].tolist()}
    a, b = {tuple(x) for x in r0["items"].tolist()}, {tuple(x) for x in r1["items"].tolist()}
    assert len(everything) == len(one["items"]) == 15  # 5 people x 3 setups, both forms in one sequence
    assert not a & b and a | b == everything and (len(a), len(b)) == (8, 7)  # rank 1 ends with a padding entry
    assert int(r0["batches"]) == int(r1["batches"]) == 2 and int(one["batches"]) == 4
    p1, p2 = (Predictions.load(tmp_path / d / "predictions.npz") for d in ("one", "two"))
    for field in ("person", "setup", "form", "question", "pred", "target"):
        assert np.array_equal(getattr(p1, field), getattr(p2, field)), field
    np.testing.assert_allclose(p1.probs, p2.probs, atol=1e-6)
    res1, res2 = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("one", "two"))
    assert res1 == res2 and "all" in res1
