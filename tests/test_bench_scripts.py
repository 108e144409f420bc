"""The planning and benchmark scripts of the 8B path run end to end on the CPU (figures are printed, not asserted
against targets: targets are checked by reading the scripts' output, see README "GPU runs")."""

from __future__ import annotations

import pytest


def test_plan_counts_both_layouts_with_the_real_tokenizer(llama3_tokenizer_dir, small_catalog_dir, tmp_path, capsys):
    from ivr.model.plan import main

    rows = main(["--rows", "ivr_pr_mixed200_n1600", "--sample", "30", "--catalog", str(small_catalog_dir),
                 "--tokenizer", str(llama3_tokenizer_dir), "--cache-dir", str(tmp_path), "--split-size", "40"])
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

    from ivr.model.bench_gpu import main

    shutil.copytree(llama3_tokenizer_dir, tmp_path / "llama31_tokenizer")  # the benchmark's cached tokenizer
    rows = main(["--tiny", "--steps", "1", "--warmup", "0", "--catalog", str(small_catalog_dir),
                 "--cache-dir", str(tmp_path), "--split-size", "40"])
    assert [r["mode"] for r in rows] == ["full", "full"]
    assert all(r["tokens_per_s"] > 0 for r in rows) and rows[1]["labels_per_s"] > rows[0]["labels_per_s"]
    assert "packed, 12 probes" in capsys.readouterr().out


@pytest.mark.slow
def test_host_ram_rehearsal_runs_on_two_ranks(tmp_path, capsys):
    from ivr.model.bench_load import main

    rows = main(["--workdir", str(tmp_path), "--ranks", "2", "--dtypes", "float32", "--hidden", "256",
                 "--layers", "2", "--vocab", "4096"])
    assert sorted(r["rank"] for r in rows) == [0, 1]
    assert all(r["peak_kb"] >= r["baseline_kb"] > 0 and r["shard_bytes"] > 0 for r in rows)
    assert "overhead" in capsys.readouterr().out
