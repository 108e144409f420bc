"""The planning and benchmark scripts of the 8B path run end to end on the CPU (figures are printed, not asserted
against targets: targets are checked by reading the scripts' output, see README "GPU runs")."""

from __future__ import annotations

import pytest


def test_plan_counts_both_layouts_with_the_real_tokenizer(llama3_tokenizer_dir, small_catalog_dir, tmp_path, capsys):
    from ivr.model.plan import main

    rows = main(
        [
            "--rows",
            "ivr_pr_mixed200_n1600",
            "--sample",
            "30",
            "--catalog",
            str(small_catalog_dir),
            "--tokenizer",
            str(llama3_tokenizer_dir),
            "--cache-dir",
            str(tmp_path),
            "--split-size",
            "40",
        ]
    )
    (row,) = rows
    one, packed = row["one"], row["packed"]
    assert one["labels"] == 1 and 1500 < one["tokens"] < 4096  # ~200 demonstrations with the Llama-3 tokenizer
    assert packed["labels"] > 8 and packed["labels_per_token"] > 5 * one["labels_per_token"]
    assert row["gpu_hours_packed_same_labels"] < row["gpu_hours_one"] < row["gpu_hours_packed_same_sequences"]
    expected = row["epochs"] * row["sequences_per_epoch"] * one["tokens"] / 5800 / 3600
    assert row["gpu_hours_one"] == pytest.approx(expected)
    assert "ivr_pr_mixed200_n1600" in capsys.readouterr().out


@pytest.mark.slow
def test_gpu_benchmark_tiny_cpu_mode(small_catalog_dir, llama3_tokenizer_dir, tmp_path, capsys):
    import shutil

    from benchmarks.gpu import main

    shutil.copytree(llama3_tokenizer_dir, tmp_path / "llama31_tokenizer")  # the benchmark's cached tokenizer
    rows = main(
        [
            "--tiny",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--catalog",
            str(small_catalog_dir),
            "--cache-dir",
            str(tmp_path),
            "--split-size",
            "40",
        ]
    )
    assert [r["mode"] for r in rows] == ["full", "full"]
    assert all(r["tokens_per_s"] > 0 for r in rows) and rows[1]["labels_per_s"] > rows[0]["labels_per_s"]
    assert "packed, 12 probes" in capsys.readouterr().out


@pytest.mark.slow
def test_host_ram_rehearsal_runs_on_two_ranks(tmp_path, capsys):
    from benchmarks.load import main

    rows = main(
        [
            "--workdir",
            str(tmp_path),
            "--ranks",
            "2",
            "--dtypes",
            "float32",
            "--hidden",
            "256",
            "--layers",
            "2",
            "--vocab",
            "4096",
        ]
    )
    assert sorted(r["rank"] for r in rows) == [0, 1]
    assert all(r["peak_kb"] >= r["baseline_kb"] > 0 and r["shard_bytes"] > 0 for r in rows)
    assert "overhead" in capsys.readouterr().out


def test_benchmarks_live_in_one_package_and_the_old_name_is_a_deprecated_alias(tmp_path):
    """Every benchmark script imports from the top-level ``benchmarks`` package (the library never imports
    it); ``python -m ivr.bench_quality`` still runs ``benchmarks.quality`` after one ``deprecated:`` line."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    names = ["quality", "real", "gpu", "load", "loglik", "convert", "data", "parser", "baselines"]
    code = (
        "import importlib, sys; "
        f"mods = [importlib.import_module('benchmarks.' + n) for n in {names!r}]; "
        "assert all(callable(getattr(m, 'main', None)) or hasattr(m, 'run_suite') for m in mods), mods"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run(
        [sys.executable, "-m", "ivr.bench_quality", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.splitlines() == [
        "deprecated: python -m ivr.bench_quality is now python -m benchmarks.quality; running that"
    ]
    assert proc.stdout.startswith("usage: python -m benchmarks.quality")
