"""``python -m ivr.catalog``: build / stats / synth, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ivr.catalog.__main__ import cli as main

FIXTURE = Path(__file__).parent / "fixtures" / "my_survey"
CODEBOOK = FIXTURE / "my_survey.yaml"
SURVEY = FIXTURE / "my_survey.csv"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ivr.catalog", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_build_and_stats_through_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "cat"
    done = _cli("build", "--codebook", str(CODEBOOK), "--input", str(SURVEY), "--out", str(out), "--progress", "false")
    assert done.returncode == 0, done.stderr
    assert (out / "catalog.parquet").is_file() and (out / "manifest.json").is_file()
    stats = _cli("stats", str(out), "--json")
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    # fixture: 20 people x 4 questions, 5 answers missing (-1, -2, blank, two 9s), 15 complete people
    assert figures["people"] == 20 and figures["questions"] == 4
    assert figures["total_valid_answers"] == 75 and figures["people_with_all_questions"] == 15
    assert figures["polar_statements"] == 8 and figures["refined_statements"] == 15


def test_bad_input_through_subprocess_is_one_error_line(tmp_path: Path) -> None:
    frame = pd.read_csv(SURVEY, dtype=str, keep_default_na=False)
    frame.loc[7, "resp_no"] = "N-001"
    frame.to_csv(tmp_path / "dup.csv", index=False)
    out = tmp_path / "cat"
    done = _cli("build", "--codebook", str(CODEBOOK), "--input", str(tmp_path / "dup.csv"), "--out", str(out))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "dup.csv" in lines[0] and "'N-001'" in lines[0] and "rows [1, 8]" in lines[0]
    assert "Traceback" not in done.stderr and not out.exists()


def _bad_codebook(tmp_path: Path, edit: str) -> Path:
    data = yaml.safe_load(CODEBOOK.read_text())
    q = data["questions"][1]
    if edit == "code_in_two_options":
        q["refined"][1]["codes"] = [1, 2]
    elif edit == "one_option":
        q["polar"] = q["polar"][:1]
    elif edit == "undeclared_category":
        q["category"] = "Leisure"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_column", ["survey.csv", "missing required column", "volunteered"]),
        ("text_code", ["survey.csv", "'age_band'", "row 3", "'old'"]),
        ("duplicate_id", ["survey.csv", "duplicate person id 'N-002'", "rows [2, 20]"]),
        ("empty_file", ["survey.csv", "empty"]),
        ("unknown_survey", ["survey.csv", "unknown survey 'wvs5'", "--codebook"]),
        ("code_in_two_options", ["bad.yaml", "trust_neighbours", "code 1 is mapped to two options"]),
        ("one_option", ["bad.yaml", "trust_neighbours", "at least 2"]),
        ("undeclared_category", ["bad.yaml", "'Leisure'", "not declared"]),
    ],
)
def test_bad_input_exit_status_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, expected: list[str]
) -> None:
    frame = pd.read_csv(SURVEY, dtype=str, keep_default_na=False)
    src, codebook = tmp_path / "survey.csv", ["--codebook", str(CODEBOOK)]
    if case == "missing_column":
        frame = frame.drop(columns=["volunteered"])
    elif case == "text_code":
        frame.loc[2, "age_band"] = "old"
    elif case == "duplicate_id":
        frame.loc[19, "resp_no"] = "N-002"
    elif case == "unknown_survey":
        codebook = ["--survey", "wvs5"]
    elif case in ("code_in_two_options", "one_option", "undeclared_category"):
        codebook = ["--codebook", str(_bad_codebook(tmp_path, case))]
    if case == "empty_file":
        src.write_text("")
    else:
        frame.to_csv(src, index=False)
    out = tmp_path / "out"
    assert main(["build", *codebook, "--input", str(src), "--out", str(out), "--progress", "false"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for text in expected:
        assert text in err, (text, err)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temp folder left


def test_stats_published_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cat"
    assert (
        main(["build", "--codebook", str(CODEBOOK), "--input", str(SURVEY), "--out", str(out), "--progress", "false"])
        == 0
    )
    paper = tmp_path / "results.json"
    paper.write_text(json.dumps({"table1_dataset": {"people": 93279, "questions": 253}}))
    capsys.readouterr()
    assert main(["stats", str(out), "--published", "--paper", str(paper)]) == 0
    table = capsys.readouterr().out
    assert "published" in table and "93,279" in table and "253" in table
    assert main(["stats", str(out), "--json", "--published", "--paper", str(paper)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["people"] == 20 and figures["published"]["people"] == 93279


def test_stats_published_defaults_to_the_packaged_copy(tmp_path: Path) -> None:
    out = tmp_path / "cat"
    assert (
        main(["build", "--codebook", str(CODEBOOK), "--input", str(SURVEY), "--out", str(out), "--progress", "false"])
        == 0
    )
    work = tmp_path / "work"  # any working folder: no ../shared needed
    work.mkdir()
    done = _cli("stats", str(out), "--published", "--json", cwd=work)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["published"]["people"] == 93279
    done = _cli("stats", str(out), "--published", "--paper", str(tmp_path / "nope.json"), cwd=work)
    assert done.returncode == 2 and "nope.json" in done.stderr and "--paper" in done.stderr


def test_stats_on_a_non_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(tmp_path)]) == 2
    assert "not a catalog folder" in capsys.readouterr().err


def test_synth_subcommand_calls_build_synthetic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = []
    fake = types.ModuleType("ivr.catalog.synth")
    fake.build_synthetic = lambda out, n_people, seed=0, **kw: calls.append((out, n_people, seed)) or Path(out)
    monkeypatch.setitem(sys.modules, "ivr.catalog.synth", fake)
    assert main(["synth", "--people", "12", "--seed", "5", "--out", str(tmp_path / "s")]) == 0
    assert calls == [(str(tmp_path / "s"), 12, 5)]
    assert "wrote" in capsys.readouterr().out
