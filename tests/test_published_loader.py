"""The published IndieValueCatalog metadata loader: real files, a made-up sample, malformed input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ivr.catalog.codebook import CodebookError, load_codebook
from ivr.catalog.published import (
    DEMOGRAPHICS_FILE,
    DIMENSIONS,
    POLAR_FILE,
    REFINED_FILE,
    load_published_codebook,
)

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "indievalue-catalog"
SAMPLE = REPO / "tests" / "fixtures" / "published_sample"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason="../shared/reference/indievalue-catalog absent (the published catalog's metadata files, not in the repository): the comparison with the published catalog is not run",
)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A writable copy of the sample folder, for corrupting one file per test."""
    dst = tmp_path / "published"
    shutil.copytree(SAMPLE, dst)
    return dst


def _rewrite(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@needs_reference
def test_reference_files_reproduce_published_wording_exactly() -> None:
    cb = load_published_codebook(REFERENCE)
    for form, fname in (("polar", POLAR_FILE), ("refined", REFINED_FILE)):
        recs = _records(REFERENCE / fname)
        assert [q.id for q in cb.questions] == [r["question_id"] for r in recs]
        for q, rec in zip(cb.questions, recs):
            assert q.statements(form) == rec["converted_statements"]
            assert [list(o.codes) for o in q.options(form)] == rec["answer_ids"]
            assert list(q.codes) == rec["all_answer_ids"]
            assert q.category == rec["question_category"] and q.type == rec["question_type"]
    assert (len(cb.questions), sum(cb.n_options("refined")), sum(cb.n_options("polar"))) == (253, 929, 567)
    assert cb.question_ids[:3] == ["Q1", "Q2", "Q3"]


@needs_reference
def test_reference_demographics_statements_and_dimensions() -> None:
    cb = load_published_codebook(REFERENCE)
    recs = _records(REFERENCE / DEMOGRAPHICS_FILE)
    assert [d.id for d in cb.demographics] == [r["question_id"] for r in recs]
    for demo, rec in zip(cb.demographics, recs):
        if "answer_vars_map" in rec:
            code, name = next(iter(rec["answer_vars_map"].items()))
            expected = rec["statement_template"].replace("{answer_var}", name)
            assert demo.statement(int(code)) == expected
        else:
            for group, stmt in zip(rec["answer_ids"], rec["converted_statements"]):
                assert all(demo.statement(c) == stmt for c in group)
    assert cb.demographic("B_COUNTRY_to_continent").column == "B_COUNTRY"
    assert set(cb.dimensions) == set(DIMENSIONS.values()) and len(cb.dimensions) == 16
    assert cb.dimensions["Income"].id == "Q288R"
    assert cb.roles["continent"] == "B_COUNTRY_to_continent"


def test_sample_loads_with_exact_wording() -> None:
    cb = load_published_codebook(SAMPLE)
    assert cb.question_ids == ["T1", "T2", "T3"]
    assert cb.categories == ("Daily Life", "Civic Views")
    t1 = cb.question("T1")
    assert t1.statements("refined") == [
        "I love cooking for guests",
        "I like cooking for guests",
        "I dislike cooking for guests",
        "I hate cooking for guests",
    ]
    assert t1.statements("polar") == ["I enjoy cooking for guests", "I do not enjoy cooking for guests"]
    assert t1.code_to_index("polar") == {1: 0, 2: 0, 3: 1, 4: 1}
    t2 = cb.question("T2")
    assert t2.code_to_index("refined") == {0: 0, 1: 1, 2: 2} and t2.code_to_index("polar")[1] == 0
    assert [o.codes for o in cb.question("T3").refined] == [(1, 2, 3), (4, 5), (6, 7), (8, 9, 10)]
    assert "bike lanes" in cb.question("T3").text


def test_sample_demographics_json_string_fields_and_dimensions() -> None:
    cb = load_published_codebook(SAMPLE)
    country = cb.demographic("B_COUNTRY")  # its map was stored as a JSON string
    assert country.statement(902) == "My home country is Sylvania"
    assert country.statement(-1) is None
    pets = cb.demographic("PETS")
    assert pets.statement(3) == "I keep some pets at home" and pets.group(0) == "no"
    assert set(cb.dimensions) == {"Country", "Sex"}
    assert cb.roles == {"person_id": "D_INTERVIEW", "country": "B_COUNTRY"}


def test_load_codebook_accepts_a_published_folder() -> None:
    assert load_codebook(SAMPLE).question_ids == ["T1", "T2", "T3"]
    assert load_codebook(str(SAMPLE)).name == "wvs7_published"


def test_invalid_json_line_names_file_and_line(sample: Path) -> None:
    path = sample / REFINED_FILE
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:40]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CodebookError, match=rf"{REFINED_FILE}:2: not valid JSON"):
        load_published_codebook(sample)


def test_missing_and_empty_files(sample: Path) -> None:
    (sample / DEMOGRAPHICS_FILE).unlink()
    with pytest.raises(CodebookError, match=rf"{DEMOGRAPHICS_FILE}: file not found"):
        load_published_codebook(sample)
    (sample / POLAR_FILE).write_text("\n")
    with pytest.raises(CodebookError, match=rf"{POLAR_FILE}: file is empty"):
        load_published_codebook(sample)


def test_statement_count_mismatch_names_line_and_question(sample: Path) -> None:
    path = sample / POLAR_FILE
    recs = _records(path)
    recs[2]["converted_statements"] = recs[2]["converted_statements"][:1]
    _rewrite(path, recs)
    with pytest.raises(CodebookError, match=rf"{POLAR_FILE}:3: question 'T3': 2 answer_ids groups but 1"):
        load_published_codebook(sample)


def test_question_order_mismatch_between_files(sample: Path) -> None:
    path = sample / REFINED_FILE
    recs = _records(path)
    _rewrite(path, [recs[1], recs[0], recs[2]])
    with pytest.raises(CodebookError, match=rf"{REFINED_FILE}:1: question 'T2' does not match 'T1'"):
        load_published_codebook(sample)


def test_bad_json_string_field_and_non_integer_code(sample: Path) -> None:
    path = sample / REFINED_FILE
    recs = _records(path)
    recs[0]["answer_ids"] = "[[1], [2"
    _rewrite(path, recs)
    with pytest.raises(CodebookError, match=r"'T1': field 'answer_ids' is a string but not valid JSON"):
        load_published_codebook(sample)
    recs[0]["answer_ids"] = [[1], ["two"], [3], [4]]
    _rewrite(path, recs)
    with pytest.raises(CodebookError, match=rf"{REFINED_FILE}:1: .*non-integer code 'two'"):
        load_published_codebook(sample)


def test_swapped_files_are_detected(sample: Path) -> None:
    polar, refined = sample / POLAR_FILE, sample / REFINED_FILE
    text = polar.read_text()
    polar.write_text(refined.read_text())
    refined.write_text(text)
    with pytest.raises(CodebookError, match=r"is_refined=True in the polar file"):
        load_published_codebook(sample)


def test_demographic_errors_name_file_and_line(sample: Path) -> None:
    path = sample / DEMOGRAPHICS_FILE
    recs = _records(path)
    recs[1]["statement_template"] = "I was registered at birth"
    _rewrite(path, recs)
    slot = rf"{DEMOGRAPHICS_FILE}:2: demographic 'Q260': .*no \{{answer_var\}} slot"
    with pytest.raises(CodebookError, match=slot):
        load_published_codebook(sample)
    recs[1]["statement_template"] = "Sex: {answer_var}"
    _rewrite(path, recs)
    with pytest.raises(CodebookError, match=r"does not follow its template"):
        load_published_codebook(sample)


def test_code_in_two_groups_is_rejected_naming_folder_and_question(sample: Path) -> None:
    path = sample / POLAR_FILE
    recs = _records(path)
    recs[0]["answer_ids"] = [[1, 2], [2, 3, 4]]
    _rewrite(path, recs)
    with pytest.raises(CodebookError, match=r"question 'T1'.*polar code 2 is mapped to two options") as err:
        load_published_codebook(sample)
    assert str(sample) in str(err.value)
