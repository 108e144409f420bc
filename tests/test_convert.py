"""Survey -> catalog conversion: answers, missing codes, file formats, stats, and every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.convert import survey_frame, write_survey
from ivr.catalog.codebook import Codebook, codebook_from_dict, load_codebook
from ivr.catalog.convert import ConversionError, _AnswerTables, convert_survey, read_survey, resolve_codebook
from ivr.catalog.stats import catalog_stats, format_stats, load_published
from ivr.catalog.store import Catalog, load_catalog
from ivr.errors import OutputFolderError

FIXTURE = Path(__file__).parent / "fixtures" / "my_survey"


@pytest.fixture(scope="module")
def wvs7() -> Codebook:
    return load_codebook("wvs7")


@pytest.fixture(scope="module")
def mine() -> Codebook:
    return load_codebook(FIXTURE / "my_survey.yaml")


def _messy_frame(cb: Codebook, rows: int = 40) -> pd.DataFrame:
    """A WVS-shaped table with negative codes, plus blanks and unlisted codes planted by hand."""
    frame = survey_frame(cb, rows, seed=3, missing=0.05).astype({q.id: "float64" for q in cb.questions})
    frame.loc[0, "Q1"] = np.nan  # blank
    frame.loc[1, "Q1"] = 7  # Q1 lists 1..4 only
    frame.loc[2, "Q1"] = -5  # WVS "missing" code
    frame.loc[3, "Q1"] = 4  # valid: last refined option, second polar option
    frame.loc[4, "Q260"] = 3  # sex lists 1, 2 only
    frame.loc[5, "B_COUNTRY"] = 999  # not a listed country
    return frame


def _expected(cb: Codebook, frame: pd.DataFrame, form: str) -> np.ndarray:
    """Option indices computed cell by cell (the slow, obvious way)."""
    out = np.full((len(frame), len(cb.questions)), -1, dtype=np.int8)
    for j, q in enumerate(cb.questions):
        lookup = q.code_to_index(form)
        for i, code in enumerate(frame[q.id].to_numpy()):
            if not np.isnan(code) and code >= 0 and int(code) in lookup:
                out[i, j] = lookup[int(code)]
    return out


def test_csv_round_trip_maps_answers_and_missing(tmp_path: Path, wvs7: Codebook) -> None:
    frame = _messy_frame(wvs7)
    src = tmp_path / "wvs.csv"
    frame.to_csv(src, index=False)
    out = convert_survey(src, wvs7, tmp_path / "cat")
    cat = load_catalog(out)
    assert np.array_equal(cat.polar, _expected(wvs7, frame, "polar"))
    assert np.array_equal(cat.refined, _expected(wvs7, frame, "refined"))
    assert list(cat.refined[:4, 0]) == [-1, -1, -1, 3] and cat.polar[3, 0] == 1
    assert ((cat.polar >= 0) == (cat.refined >= 0)).all()
    assert np.array_equal(cat.person_ids, frame["D_INTERVIEW"].to_numpy())
    # demographics: raw codes, -1 for codes the codebook does not list (and negatives)
    sex = cat.demographic_codes("Q260")
    assert sex[4] == -1 and set(sex.tolist()) <= {-1, 1, 2}
    assert cat.demographic_codes("B_COUNTRY")[5] == -1
    raw = frame["X003R"].to_numpy()
    assert np.array_equal(cat.demographic_codes("X003R"), np.where(raw < 0, -1, raw))
    parquet = pd.read_parquet(out / "catalog.parquet")
    assert parquet["Q1_polar"].dtype == np.int8 and parquet["Q1_refined"].dtype == np.int8
    assert parquet["B_COUNTRY"].dtype == np.int32 and parquet.columns[0] == "D_INTERVIEW"
    assert "A_YEAR" not in parquet.columns  # columns the codebook does not use are dropped
    m = cat.manifest
    assert m["codebook"] == "wvs7" and m["codebook_hash"] == wvs7.hash
    assert m["rows"] == 40 and m["source"] == str(src) and m["built_at"].endswith("Z")


def test_sorted_search_fallback_agrees_with_dense_tables(
    tmp_path: Path, wvs7: Codebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Codebooks with large codes skip the dense [Q, max code] table; both paths must agree.
    frame = _messy_frame(wvs7, rows=30)
    frame.to_csv(tmp_path / "wvs.csv", index=False)
    dense = read_survey(tmp_path / "wvs.csv", wvs7)
    monkeypatch.setattr(_AnswerTables, "DENSE_LIMIT", 1)
    searched = read_survey(tmp_path / "wvs.csv", wvs7)
    assert np.array_equal(dense.polar, searched.polar) and np.array_equal(dense.refined, searched.refined)
    assert np.array_equal(searched.refined, _expected(wvs7, frame, "refined"))


def test_stata_input_gives_the_same_catalog(tmp_path: Path, wvs7: Codebook) -> None:
    frame = _messy_frame(wvs7, rows=25)
    frame.to_csv(tmp_path / "wvs.csv", index=False)
    write_survey(frame, tmp_path / "wvs.dta")
    from_csv = read_survey(tmp_path / "wvs.csv", wvs7)
    from_dta = read_survey(tmp_path / "wvs.dta", wvs7)
    for name in ("person_ids", "polar", "refined", "demographics"):
        assert np.array_equal(getattr(from_csv, name), getattr(from_dta, name)), name


def test_semicolon_csv_and_case_of_column_names(tmp_path: Path, mine: Codebook) -> None:
    frame = pd.read_csv(FIXTURE / "my_survey.csv", dtype={"volunteered": "Int64"})
    reference = read_survey(FIXTURE / "my_survey.csv", mine)
    frame.rename(columns={"park_visits": "PARK_VISITS"}).to_csv(tmp_path / "s.csv", sep=";", index=False)
    cat = read_survey(tmp_path / "s.csv", mine)
    assert np.array_equal(cat.refined, reference.refined)
    assert cat.person_ids.tolist() == [f"N-{i:03d}" for i in range(1, 21)]


def test_byo_survey_fixture(tmp_path: Path, mine: Codebook) -> None:
    cat = load_catalog(convert_survey(FIXTURE / "my_survey.csv", FIXTURE / "my_survey.yaml", tmp_path / "c"))
    assert cat.manifest["codebook"] == "my_survey" and len(cat) == 20
    assert cat.person_ids[0] == "N-001"
    j = mine.question_index["noise_problem"]
    assert cat.refined[4, j] == -1  # code 9 ("can't say") is not listed
    assert cat.refined[0, j] == 3 and cat.polar[0, j] == 1
    assert cat.demographic_codes("district")[11] == -1  # 99 is no district
    assert cat.demographic_statements("district")[0] == "I live in the riverside district"
    assert cat.groups("Age group")[0] == "under 45"


def test_stats_on_a_hand_checked_catalog(mine: Codebook) -> None:
    # 3 people x 4 questions: 4, 2 and 0 valid answers.
    refined = np.array([[0, 1, 2, 1], [-1, 0, 4, -1], [-1, -1, -1, -1]], dtype=np.int8)
    polar = np.where(refined >= 0, 0, -1).astype(np.int8)
    demo = np.array([[1, 10], [2, 20], [-1, 30]], dtype=np.int32)
    stats = catalog_stats(Catalog(mine, np.array(["a", "b", "c"], dtype=object), polar, refined, demo))
    assert stats == {
        "questions": 4,
        "polar_statements": 8,
        "refined_statements": 15,
        "demographic_questions": 2,
        "people": 3,
        "total_valid_answers": 6,
        "valid_answers_per_person_mean": 2.0,
        "valid_answers_per_person_std": round(float(np.sqrt(8 / 3)), 4),  # population std of 4, 2, 0
        "people_with_all_questions": 1,
    }
    table = format_stats(stats, {"people": 93279})
    assert "people with every question answered" in table and "93,279" in table


def test_load_published_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="results.json.*--paper"):
        load_published(tmp_path / "results.json")
    (tmp_path / "bad.json").write_text('{"other": 1}')
    with pytest.raises(ValueError, match="table1_dataset"):
        load_published(tmp_path / "bad.json")


# ----------------------------------------------------------------------------- bad input
def _mine_frame() -> pd.DataFrame:
    return pd.read_csv(FIXTURE / "my_survey.csv", dtype=str, keep_default_na=False)


def _convert_fails(tmp_path: Path, frame: pd.DataFrame | None, codebook: object, *patterns: str) -> str:
    src = tmp_path / "survey.csv"
    if frame is not None:
        frame.to_csv(src, index=False)
    out = tmp_path / "out"
    with pytest.raises(ConversionError) as err:
        convert_survey(src, codebook, out)
    message = str(err.value)
    assert str(src) in message
    for pattern in patterns:
        assert pattern in message, (pattern, message)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["survey.csv"]  # no temp folder left either
    return message


@pytest.mark.parametrize("column", ["resp_no", "noise_problem", "district"])
def test_missing_required_column(tmp_path: Path, mine: Codebook, column: str) -> None:
    _convert_fails(tmp_path, _mine_frame().drop(columns=[column]), mine, "missing required column", column)


def test_demographic_columns_optional_when_codebook_declares_none(tmp_path: Path, mine: Codebook) -> None:
    data = mine.to_dict()
    data["demographics"], data["roles"] = [], {"person_id": "resp_no"}
    bare = codebook_from_dict(data)
    src = tmp_path / "s.csv"
    _mine_frame().drop(columns=["district", "age_band"]).to_csv(src, index=False)
    cat = load_catalog(convert_survey(src, bare, tmp_path / "c"))
    assert cat.demographics.shape == (20, 0) and len(cat) == 20


def test_text_where_codes_belong(tmp_path: Path, mine: Codebook) -> None:
    frame = _mine_frame()
    frame.loc[6, "trust_neighbours"] = "somewhat"
    _convert_fails(tmp_path, frame, mine, "'trust_neighbours'", "row 7 (line 8)", "'somewhat'")


def test_text_in_demographic_column(tmp_path: Path, mine: Codebook) -> None:
    frame = _mine_frame()
    frame.loc[0, "district"] = "riverside"
    _convert_fails(tmp_path, frame, mine, "'district'", "row 1", "'riverside'")


def test_fractional_code(tmp_path: Path, mine: Codebook) -> None:
    frame = _mine_frame()
    frame.loc[2, "park_visits"] = "2.5"
    _convert_fails(tmp_path, frame, mine, "'park_visits'", "row 3", "not an integer answer code")


def test_duplicate_person_ids(tmp_path: Path, mine: Codebook) -> None:
    frame = _mine_frame()
    frame.loc[9, "resp_no"] = "N-004"
    _convert_fails(tmp_path, frame, mine, "duplicate person id 'N-004'", "rows [4, 10]", "'resp_no'")


def test_duplicate_numeric_person_ids(tmp_path: Path, wvs7: Codebook) -> None:
    frame = survey_frame(wvs7, 12, seed=1)
    frame.loc[11, "D_INTERVIEW"] = frame.loc[2, "D_INTERVIEW"]
    _convert_fails(tmp_path, frame, wvs7, f"duplicate person id {frame.loc[2, 'D_INTERVIEW']}", "rows [3, 12]")


def test_empty_person_id(tmp_path: Path, mine: Codebook) -> None:
    frame = _mine_frame()
    frame.loc[4, "resp_no"] = ""
    _convert_fails(tmp_path, frame, mine, "'resp_no'", "row 5", "empty person id")


def test_empty_file(tmp_path: Path, mine: Codebook) -> None:
    (tmp_path / "survey.csv").write_text("")
    _convert_fails(tmp_path, None, mine, "empty")


def test_header_only_file(tmp_path: Path, mine: Codebook) -> None:
    _convert_fails(tmp_path, _mine_frame().iloc[:0], mine, "no data rows")


def test_unknown_survey_name(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="s.csv: unknown survey 'wvs9'.*--codebook"):
        resolve_codebook("wvs9", None, tmp_path / "s.csv")
    assert resolve_codebook("nope", FIXTURE / "my_survey.yaml").name == "my_survey"  # --codebook wins


def test_missing_input_and_unsupported_type(tmp_path: Path, mine: Codebook) -> None:
    with pytest.raises(ConversionError, match="nope.csv: input file not found"):
        convert_survey(tmp_path / "nope.csv", mine, tmp_path / "out")
    (tmp_path / "survey.xlsx").write_text("x")
    with pytest.raises(ConversionError, match="survey.xlsx: unsupported file type"):
        convert_survey(tmp_path / "survey.xlsx", mine, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refuses_to_replace_a_non_catalog_folder(tmp_path: Path, mine: Codebook) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputFolderError, match="notes.txt"):
        convert_survey(FIXTURE / "my_survey.csv", mine, tmp_path / "precious")
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"
    # a folder holding a manifest.json and other files is not a catalog either (it used to be replaced)
    (tmp_path / "precious" / "manifest.json").write_text("{}")
    with pytest.raises(OutputFolderError, match="notes.txt"):
        convert_survey(FIXTURE / "my_survey.csv", mine, tmp_path / "precious")
    assert sorted(p.name for p in (tmp_path / "precious").iterdir()) == ["manifest.json", "notes.txt"]


def test_rebuild_replaces_an_earlier_catalog(tmp_path: Path, mine: Codebook) -> None:
    out = convert_survey(FIXTURE / "my_survey.csv", mine, tmp_path / "c")
    frame = _mine_frame().iloc[:5]
    frame.to_csv(tmp_path / "five.csv", index=False)
    assert len(load_catalog(convert_survey(tmp_path / "five.csv", mine, out))) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "five.csv"]


def test_benchmark_script_small(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.convert import main as bench

    result = bench(["--rows", "300", "--codebook", str(FIXTURE / "my_survey.yaml")])
    assert result["rows"] == 300 and result["seconds"] > 0 and result["rows_per_second"] > 0
    assert "converted 300 rows" in capsys.readouterr().out
