"""``ivr.paper``: the packaged copy of the paper's figures, explicit files, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.paper import PaperTableError, load_paper, paper_table

SHARED = Path(__file__).resolve().parents[2] / "shared"
RESULTS = SHARED / "paper" / "results.json"
PACKAGED = Path(__file__).resolve().parents[1] / "ivr" / "paper_results.json"


@pytest.mark.skipif(
    not RESULTS.is_file(),
    reason="../shared/paper/results.json absent: nothing to compare the packaged copy ivr/paper_results.json with",
)
def test_packaged_copy_is_the_shared_results_file() -> None:
    assert PACKAGED.read_bytes() == RESULTS.read_bytes()  # a verbatim copy, not a re-serialization
    assert load_paper() == json.loads(RESULTS.read_text(encoding="utf-8"))
    assert load_paper(RESULTS) == load_paper()


def test_packaged_copy_holds_the_tables_commands_use() -> None:
    data = load_paper()
    assert data["table1_dataset"]["people"] == 93279
    assert data["table3_methods"]["Random"]["polar"] == [46.37, 45.51, 44.23]
    load_paper()["table1_dataset"]["people"] = 0  # callers get their own copy
    assert load_paper()["table1_dataset"]["people"] == 93279


def test_paper_table_drops_notes_and_keeps_lists() -> None:
    fig6 = paper_table("figure6_continent_models")
    assert "_about" in load_paper()["figure6_continent_models"] and "_about" not in fig6
    assert fig6["columns"][-1] == "All" and len(fig6["All"]) == len(fig6["columns"])
    assert isinstance(paper_table("demographic_dimensions_for_inequity"), list)


def test_explicit_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"table1_dataset": {"_about": "x", "people": 7}}))
    assert load_paper(str(path)) == {"table1_dataset": {"_about": "x", "people": 7}}
    assert paper_table("table1_dataset", path) == {"people": 7}


def test_missing_file_names_it_and_the_flag(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.json.*--paper/--published"):
        load_paper(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        paper_table("table1_dataset", tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("text", "why"), [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object"), ("", "not valid JSON")]
)
def test_bad_file_names_it_and_the_flag(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"bad\.json.*{why}.*--paper/--published"):
        load_paper(path)


def test_missing_or_malformed_table(tmp_path: Path) -> None:
    path = tmp_path / "partial.json"
    path.write_text(json.dumps({"_about": "notes", "table1_dataset": {"people": 7}}))
    with pytest.raises(PaperTableError, match=r"partial\.json.*'table3_methods'.*tables: table1_dataset") as err:
        paper_table("table3_methods", path)
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert not str(err.value).startswith("'")  # readable, not KeyError's quoted repr
    with pytest.raises(ValueError, match=r"partial\.json.*'_about' is a str, not a table"):
        paper_table("_about", path)
    with pytest.raises(KeyError, match="no_such_table"):
        paper_table("no_such_table")


def test_every_loader_defaults_to_the_packaged_copy() -> None:
    from baselines.report import load_published as baselines_published
    from ivr.catalog.stats import load_published as table1_published
    from ivr.experiment.published import TABLES
    from ivr.experiment.published import load_published as experiment_published
    from ivr.zero_shot.report import load_published as zero_shot_published

    paper = load_paper()
    assert table1_published() == paper["table1_dataset"]
    assert baselines_published() == paper
    assert experiment_published() == {key: paper_table(key) for key in TABLES}
    rows = zero_shot_published()
    assert rows["Llama-3.1-8B, 200 polar demos"] == paper["table14_zero_shot_polar"]["Llama-3.1-8B"]
    assert rows["Random"] == [46.37, 45.51, 44.23, 45.37]


def test_experiment_file_replaces_only_the_tables_it_holds(tmp_path: Path) -> None:
    from ivr.experiment.published import load_published

    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"table2_inequity_index": {"_about": "x", "Model A": 1.5}, "other": 1}))
    figures = load_published(path)
    assert figures["table2_inequity_index"] == {"Model A": 1.5}
    assert figures["figure6_continent_models"] == paper_table("figure6_continent_models")
    assert "other" not in figures


def test_zero_shot_published_flag_and_paper_path(capsys) -> None:
    from ivr.zero_shot.__main__ import _published_path, build_parser

    base = ["--model", "m"]
    assert build_parser().parse_args(base).published is False
    assert build_parser().parse_args([*base, "--published"]).published is True
    cfg = build_parser().parse_args([*base, "--published", "--paper", "r.json"])
    assert cfg.published is True and cfg.paper == "r.json"
    # the previous release's `--published PATH` still works, with a deprecation note
    old = build_parser().parse_args(_published_path([*base, "--published", "r.json"]))
    assert old.published is True and old.paper == "r.json"
    assert "deprecated" in capsys.readouterr().err


def test_evaluate_table3_rows_come_from_the_paper() -> None:
    from ivr.model.published import PUBLISHED_TABLE3, ROWS, published_table3

    table3 = paper_table("table3_methods")
    assert list(PUBLISHED_TABLE3) == list(ROWS) and all(PUBLISHED_TABLE3[k] == table3[k] for k in ROWS)
    assert published_table3() == PUBLISHED_TABLE3
