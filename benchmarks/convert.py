"""Benchmark survey conversion on a generated WVS-shaped file.

``python -m benchmarks.convert --rows 93279`` writes a CSV (or .dta) with random valid
answer codes for every question of the codebook, some of its declared missing codes (blanks where it
declares none), the demographic
columns and a few unused columns the real release also carries, into a temporary folder; then
times :func:`ivr.catalog.convert.convert_survey` on it and prints rows, seconds and rows/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ivr.catalog.codebook import Codebook, load_codebook
from ivr.catalog.convert import convert_survey


def survey_frame(codebook: Codebook, rows: int, seed: int = 0, missing: float = 0.04) -> pd.DataFrame:
    """A survey table shaped like the codebook's source file, with random codes.

    Args:
        codebook: decides the id column, question columns and demographic columns.
        rows: number of respondents.
        seed: random seed.
        missing: share of answers replaced by a declared missing code (by a blank where none is declared).

    Returns:
        Columns: a few unused leading columns (one text), the id column, every question column,
        every demographic column; answer columns are int64 (float64 where blanks are planted).
    """
    rng = np.random.default_rng([seed, 7])
    cols: dict[str, np.ndarray] = {
        "A_YEAR": rng.integers(2017, 2023, rows),
        "B_COUNTRY_ALPHA": np.array(["AND", "ARG", "AUS", "BGD"], dtype=object)[rng.integers(0, 4, rows)],
        "W_WEIGHT": rng.random(rows).round(4) + 0.5,
        codebook.id_column: np.arange(rows, dtype=np.int64) * 7 + 10_000_001,
    }

    def plant(codes: list[int], missing_codes: set[int]) -> np.ndarray:
        values = rng.choice(np.array(codes), rows)
        lost = rng.random(rows) < missing
        if not missing_codes:  # nothing declared missing: blank cells
            return np.where(lost, np.nan, values)
        values[lost] = rng.choice(np.array(sorted(missing_codes)), int(lost.sum()))
        return values

    survey_missing = set(codebook.missing_codes)
    for q in codebook.questions:
        cols[q.id] = plant(list(q.codes), survey_missing | set(q.missing_codes))
    for col in codebook.demographic_columns:
        readers = [d for d in codebook.demographics if d.column == col]
        cols[col] = plant(
            sorted({c for d in readers for c in d.values}),
            survey_missing | {c for d in readers for c in d.missing_codes},
        )
    return pd.DataFrame(cols)


def write_survey(frame: pd.DataFrame, path: Path) -> Path:
    """Write a survey table as CSV (fast pyarrow writer) or Stata .dta, by suffix."""
    if path.suffix == ".dta":
        frame.to_stata(path, write_index=False, version=118)
    else:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark; prints and returns rows, wall and CPU seconds, and rows/s."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convert", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=93_279, help="respondents (WVS-7 has 93,279)")
    parser.add_argument("--codebook", default="wvs7", help="codebook (default: the built-in wvs7)")
    parser.add_argument("--format", choices=("csv", "dta"), default="csv", help="input file format")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    codebook = load_codebook(args.codebook)
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        t0 = time.perf_counter()
        path = write_survey(survey_frame(codebook, args.rows, args.seed), Path(tmp) / f"survey.{args.format}")
        generated = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        convert_survey(path, codebook, Path(tmp) / "catalog", progress=False)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0  # cpu: robust to a busy machine
        size_mb = path.stat().st_size / 1e6
    n_cols = 4 + len(codebook.questions) + len(codebook.demographic_columns)
    result = {
        "rows": args.rows,
        "columns": n_cols,
        "format": args.format,
        "file_mb": round(size_mb, 1),
        "generate_seconds": round(generated, 2),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "rows_per_second": round(args.rows / seconds),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"converted {result['rows']:,} rows x {n_cols} columns ({args.format}, {result['file_mb']} MB) "
            f"in {result['seconds']:.2f} s = {result['rows_per_second']:,} rows/s "
            f"({result['cpu_seconds']:.2f} s CPU; "
            f"generating the file took {result['generate_seconds']:.2f} s)"
        )
    return result


if __name__ == "__main__":
    main()
