"""Hostile and ignored flags of ``python -m baselines`` (issue 23): one ``error:`` line, exit status 2, nothing
written; ``--data.limit_eval_people`` is honoured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.__main__ import cli


@pytest.mark.parametrize(
    "flag, value, needle",
    [
        ("--bootstrap", "-1", "--bootstrap -1"),
        ("--data.limit_eval_people", "0", "--data.limit_eval_people 0"),
        ("--people", "everyone", "--people 'everyone'"),
    ],
)
def test_bad_flag_is_one_error_line(
    small_catalog_dir: Path, tmp_path: Path, capsys, flag: str, value: str, needle: str
) -> None:
    code = cli(
        ["--data.catalog", str(small_catalog_dir), flag, value, "--out", str(tmp_path / "out"), "--progress", "false"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: ") and needle in err[-1], err
    assert not (tmp_path / "out").exists()


def test_limit_eval_people_is_honoured(small_catalog_dir: Path, tmp_path: Path, capsys) -> None:
    code = cli(
        [
            "--data.catalog",
            str(small_catalog_dir),
            "--data.split_rule",
            "stratified",
            "--data.split_size",
            "40",
            "--data.limit_eval_people",
            "5",
            "--data.setups",
            "[0]",
            "--pools",
            "[all]",
            "--max_n",
            "5",
            "--n_cluster",
            "5",
            "--bootstrap",
            "0",
            "--imputers",
            "false",
            "--progress",
            "false",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    table = json.loads((tmp_path / "out" / "table.json").read_text())
    assert table["info"]["n_eval"] == 10  # the first 5 of the test half and of the validation half
    assert {m["ours"]["n"] for name, m in table["methods"].items() if "n" in m["ours"]} == {10}
    assert "n = 10 people" in out
