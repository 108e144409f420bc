"""Hostile codebooks and survey files for ``python -m ivr.catalog``: exit 2, one ``error:`` line, nothing written.

Each case starts from the worked-example fixture (tests/fixtures/my_survey) and breaks one thing: a key
with a typo anywhere in the codebook, a YAML flow list or mapping whose commas split a name, a code in the
file that the codebook neither lists nor declares missing, a constant or empty probe question.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ivr.catalog.__main__ import main
from ivr.cli import run

FIXTURE = Path(__file__).parent / "fixtures" / "my_survey"
TEXT = (FIXTURE / "my_survey.yaml").read_text()


def _case(tmp_path: Path, codebook: str = TEXT, frame: pd.DataFrame | None = None) -> tuple[Path, Path]:
    (tmp_path / "in").mkdir()
    book = tmp_path / "in" / "codebook.yaml"
    book.write_text(codebook)
    csv = tmp_path / "in" / "survey.csv"
    if frame is None:
        shutil.copy(FIXTURE / "my_survey.csv", csv)
    else:
        frame.to_csv(csv, index=False)
    return book, csv


def _frame() -> pd.DataFrame:
    return pd.read_csv(FIXTURE / "my_survey.csv", dtype=str, keep_default_na=False)


def _build_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str], book: Path, csv: Path, *needles: str) -> str:
    """Exit 2, exactly one ``error:`` line (the last line of stderr), no traceback, nothing written."""
    before = sorted(p.name for p in tmp_path.iterdir())
    code = run(main, ["build", "--codebook", str(book), "--input", str(csv), "--out", str(tmp_path / "cat")])
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no catalog, no hidden temporary folder
    return lines[0]


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        (
            "  dimension: District",
            "  dimesion: District",
            ["demographic 'district'", "'dimesion'", "did you mean dimension?"],
        ),
        ("  groups: {18 to 29", "  group: {18 to 29", ["demographic 'age_band'", "'group'", "did you mean groups?"]),
        ("  text: How often", "  txt: How often", ["question 'park_visits'", "'txt'", "did you mean text?"]),
        (
            "  - {codes: [1], statement: I visit a local park almost every day}",
            "  - {codes: [1], statment: I visit a local park almost every day}",
            ["question 'park_visits'", "refined option 0", "'statment'", "did you mean statement?"],
        ),
        ("roles:\n", "role:\n  person_id: resp_no\nroles:\n", ["top level", "'role'", "did you mean roles?"]),
        (
            "missing_codes: [-2, -1]",
            "missing_code: [-2, -1]",
            ["top level", "'missing_code'", "did you mean missing_codes?"],
        ),
        ("  type: yes_no\n  ordered: false", "  type: yes_no\n  orderd: false", ["'orderd'", "did you mean ordered?"]),
        (
            "name: my_survey",
            "name: my_survey\nprotocol: {n_setup: 2}",
            ["protocol.n_setup: unknown key", "did you mean n_setups?"],
        ),
    ],
)
def test_unknown_key_anywhere_is_an_error_with_did_you_mean(tmp_path, capsys, old, new, needles) -> None:
    assert old in TEXT
    book, csv = _case(tmp_path, TEXT.replace(old, new, 1))
    _build_fails(tmp_path, capsys, book, csv, *needles)


def test_flow_list_comma_splitting_a_category_gets_a_quoting_hint(tmp_path, capsys) -> None:
    text = TEXT.replace("- Community\n", "- Trust, family, and friends\n", 1)
    text = text.replace("category: Community", 'category: "Trust, family, and friends"')
    text = text.replace(
        "categories:\n- Trust, family, and friends\n- Environment\n",
        "categories: [Trust, family, and friends, Environment]\n",
    )
    assert "categories: [Trust, family, and friends, Environment]" in text
    book, csv = _case(tmp_path, text)
    _build_fails(
        tmp_path,
        capsys,
        book,
        csv,
        "question 'trust_neighbours'",
        "'Trust, family, and friends'",
        "split it at its commas into ['Trust', 'family', 'and friends']",
        "quote the name",
    )


def test_comma_in_an_unquoted_flow_mapping_statement_gets_a_quoting_hint(tmp_path, capsys) -> None:
    old = "{codes: [1], statement: I trust my neighbours completely}"
    book, csv = _case(tmp_path, TEXT.replace(old, "{codes: [1], statement: I trust my neighbours, completely}"))
    _build_fails(
        tmp_path,
        capsys,
        book,
        csv,
        "question 'trust_neighbours'",
        "unknown key 'completely'",
        "put the statement in quotes",
    )


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        ("  ordered: false", "  ordered: sometimes", ["question 'volunteered'", "'ordered' must be true or false"]),
        (
            "  missing_codes: [9]",
            "  missing_codes: [5, 9]",
            ["question 'noise_problem'", "code(s) [5] are listed both under 'codes'", "remove them from one"],
        ),
        (
            "missing_codes: [-2, -1]",
            "missing_codes: [-2, -1, 1]",
            ["code(s) [1] are listed both under 'codes'", "the survey's 'missing_codes'"],
        ),
        (
            "name: my_survey",
            "name: my_survey\nunlisted_codes: ignore",
            ["unlisted_codes: 'ignore'", "'error', 'missing'"],
        ),
        (
            "values: {10: riverside,",
            "values: {-10: riverside,",
            ["demographic 'district'", "value code -10 is negative"],
        ),
    ],
)
def test_contradictory_or_wrong_values_are_errors(tmp_path, capsys, old, new, needles) -> None:
    assert old in TEXT
    book, csv = _case(tmp_path, TEXT.replace(old, new, 1))
    _build_fails(tmp_path, capsys, book, csv, *needles)


def test_code_outside_the_codebook_is_named_with_its_count_and_fix(tmp_path, capsys) -> None:
    frame = _frame()
    frame.loc[[2, 5, 11], "trust_neighbours"] = "7"  # lists 1..4
    frame.loc[3, "volunteered"] = "-9"  # lists 1, 2; -9 is not a declared missing code
    book, csv = _case(tmp_path, frame=frame)
    line = _build_fails(
        tmp_path,
        capsys,
        book,
        csv,
        "column 'trust_neighbours': code 7 appears in 3 row(s)",
        "add it to the question's 'codes:'",
        "'missing_codes:'",
        "volunteered code -9 (1)",
    )
    assert "question 'trust_neighbours' lists codes [1, 2, 3, 4]" in line


def test_summary_before_the_error_lists_every_unlisted_code(tmp_path, capsys) -> None:
    frame = _frame()
    frame.loc[[2, 5], "park_visits"] = "8"
    book, csv = _case(tmp_path, frame=frame)
    code = run(main, ["build", "--codebook", str(book), "--input", str(csv), "--out", str(tmp_path / "cat")])
    out = capsys.readouterr().out
    assert code == 2 and not (tmp_path / "cat").exists()
    row = next(line for line in out.splitlines() if line.startswith("park_visits"))
    assert "UNLISTED 8: 2" in row


def test_demographic_code_outside_the_codebook_is_an_error(tmp_path, capsys) -> None:
    frame = _frame()
    frame.loc[4, "district"] = "40"
    book, csv = _case(tmp_path, frame=frame)
    _build_fails(
        tmp_path,
        capsys,
        book,
        csv,
        "column 'district': code 40 appears in 1 row(s)",
        "add it to the demographic's 'values:'",
    )


def _catalog_with(tmp_path: Path, capsys, column: str, value: str) -> Path:
    frame = _frame()
    frame[column] = value
    book, csv = _case(tmp_path, frame=frame)
    assert run(main, ["build", "--codebook", str(book), "--input", str(csv), "--out", str(tmp_path / "cat")]) == 0
    capsys.readouterr()
    return tmp_path / "cat"


def _protocol_fails(catalog: Path, capsys, *needles: str) -> str:
    code = run(main, ["protocol", str(catalog)])
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err, err
    assert len([x for x in lines if x.startswith("error: ")]) == 1 and lines[-1].startswith("error: "), err
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    return lines[-1]


def test_constant_probe_is_refused_with_the_fix(tmp_path, capsys) -> None:
    catalog = _catalog_with(tmp_path, capsys, "park_visits", "2")  # park_visits is a probe of the default protocol
    _protocol_fails(
        catalog,
        capsys,
        "probe question 'park_visits' is constant",
        "all 20 people",
        "'I visit a local park about once a week'",
        "mark it 'probe: false'",
        "rebuild the catalog",
    )


def test_all_blank_probe_is_refused_with_the_fix(tmp_path, capsys) -> None:
    catalog = _catalog_with(tmp_path, capsys, "park_visits", "")
    _protocol_fails(
        catalog,
        capsys,
        "lacks probe question 'park_visits': it has no valid answer",
        "20 blank",
        "drop the question",
        "'probe: false'",
    )


def test_probe_holding_a_declared_missing_code_everywhere_names_the_code(tmp_path, capsys) -> None:
    catalog = _catalog_with(tmp_path, capsys, "park_visits", "-2")
    _protocol_fails(
        catalog,
        capsys,
        "lacks probe question 'park_visits': it has no valid answer",
        "20 x code -2 (declared missing)",
        "list the codes that are answers under its 'codes:'",
    )


def test_probe_holding_an_unlisted_code_everywhere_names_the_code(tmp_path, capsys) -> None:
    frame = _frame()
    frame["park_visits"] = "7"  # outside the codebook; this codebook reads such codes as missing
    book, csv = _case(tmp_path, TEXT.replace("name: my_survey", "name: my_survey\nunlisted_codes: missing"), frame)
    assert run(main, ["build", "--codebook", str(book), "--input", str(csv), "--out", str(tmp_path / "cat")]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("park_visits"))
    assert row.split()[1:6] == ["20", "0", "0", "0", "20"] and "empty; UNLISTED 7: 20" in row
    _protocol_fails(
        tmp_path / "cat",
        capsys,
        "lacks probe question 'park_visits'",
        "20 x code 7 (outside the codebook, read as missing)",
        "drop the question",
    )
