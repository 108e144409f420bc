"""The built-in WVS-7 codebook: counts, facts shared with the published catalog, our own wording,
and the codebook validation errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ivr.catalog.codebook import FORMS, CodebookError, builtin_codebook_path, load_codebook
from ivr.catalog.published import DEMOGRAPHICS_FILE, POLAR_FILE, REFINED_FILE
from ivr.paper import load_paper

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE = SHARED / "reference" / "indievalue-catalog"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason="../shared/reference/indievalue-catalog absent (the published catalog's metadata files, not in the repository): the comparison with the published catalog is not run",
)


@pytest.fixture(scope="module")
def cb():
    return load_codebook("wvs7")


@pytest.fixture(scope="module")
def ref() -> dict[str, list[dict]]:
    def read(name: str) -> list[dict]:
        return [json.loads(x) for x in (REFERENCE / name).read_text(encoding="utf-8").splitlines() if x]

    return {"polar": read(POLAR_FILE), "refined": read(REFINED_FILE), "demographics": read(DEMOGRAPHICS_FILE)}


def _norm(text: str) -> str:
    """Case- and punctuation-blind form, so a copy differing only in spelling details still matches."""
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def test_counts(cb) -> None:
    assert len(cb.questions) == 253 and len(cb.categories) == 13
    assert sum(cb.n_options("refined")) == 929 and sum(cb.n_options("polar")) == 567
    assert len(cb.demographics) == 31
    assert cb.roles == {
        "person_id": "D_INTERVIEW",
        "country": "B_COUNTRY",
        "continent": "B_COUNTRY_to_continent",
        "religion": "Q289",
    }
    assert cb.id_column == "D_INTERVIEW"


def test_category_counts_and_dimensions_match_the_paper(cb) -> None:
    results = load_paper()  # the packaged copy of the paper's figures: runs in any clone
    for row in results["table5_categories"]:
        qs = [q for q in cb.questions if q.category == row["category"]]
        assert len(qs) == row["questions"], row["category"]
        assert sum(len(q.polar) for q in qs) == row["polar"], row["category"]
        assert sum(len(q.refined) for q in qs) == row["refined"], row["category"]
    assert list(cb.categories) == [r["category"] for r in results["table5_categories"]]
    assert list(cb.dimensions) == results["demographic_dimensions_for_inequity"]


@needs_reference
def test_same_ids_codes_groupings_and_categories_as_published(cb, ref) -> None:
    assert cb.question_ids == [r["question_id"] for r in ref["polar"]]
    for q, p, r in zip(cb.questions, ref["polar"], ref["refined"]):
        assert (q.category, q.type, list(q.codes)) == (
            p["question_category"],
            p["question_type"],
            p["all_answer_ids"],
        ), q.id
        assert [list(o.codes) for o in q.polar] == p["answer_ids"], q.id
        assert [list(o.codes) for o in q.refined] == r["answer_ids"], q.id


@needs_reference
def test_same_demographic_facts_as_published(cb, ref) -> None:
    assert [d.id for d in cb.demographics] == [r["question_id"] for r in ref["demographics"]]
    for demo, rec in zip(cb.demographics, ref["demographics"]):
        assert demo.column == rec["question_id_converted"]
        if "answer_vars_map" in rec:
            assert demo.values == {int(k): v for k, v in rec["answer_vars_map"].items()}, demo.id
        else:
            codes = sorted(c for g in rec["answer_ids"] for c in g)
            assert sorted(demo.values) == codes, demo.id
            # Codes sharing a published group share our value (hence our metric group).
            for group in rec["answer_ids"]:
                assert len({demo.group(c) for c in group}) == 1, demo.id


@needs_reference
def test_no_statement_copies_the_published_wording(cb, ref) -> None:
    published = {_norm(s) for form in FORMS for r in ref[form] for s in r["converted_statements"]}
    ours = [(q.id, s) for q in cb.questions for f in FORMS for s in q.statements(f)]
    copies = [(qid, s) for qid, s in ours if _norm(s) in published]
    assert copies == []
    demo_published = {_norm(r["statement_template"]) for r in ref["demographics"]}
    demo_published |= {_norm(s) for r in ref["demographics"] for s in r["converted_statements"]}
    for demo in cb.demographics:
        assert _norm(demo.template) not in demo_published, demo.id
        assert all(_norm(demo.statement(c)) not in demo_published for c in demo.values), demo.id


def test_statements_are_distinct_sentences_with_a_question_text(cb) -> None:
    for q in cb.questions:
        assert q.text and q.text[0].isupper(), q.id
        for form in FORMS:
            stmts = q.statements(form)
            assert len(set(map(_norm, stmts))) == len(stmts), (q.id, form)
            assert all(s[0].isupper() and "{" not in s and len(s) < 130 for s in stmts), (q.id, form)


def test_wording_follows_the_answer_direction(cb) -> None:
    """Spot checks on the items whose codes are easy to get backwards."""

    def stmt(qid: str, form: str, code: int) -> str:
        q = cb.question(qid)
        return q.options(form)[q.code_to_index(form)[code]].statement

    assert "great deal" in stmt("Q1", "refined", 1) and "at all" in stmt("Q1", "refined", 4)
    assert "not a priority" not in stmt("Q7", "polar", 1) and "not a priority" in stmt("Q7", "polar", 2)
    assert "rather not" in stmt("Q18", "polar", 1) and "not mind" in stmt("Q18", "polar", 2)
    assert "not a member" in stmt("Q94", "refined", 0) and "not an active" in stmt("Q94", "refined", 1)
    assert "not actively" in stmt("Q94", "polar", 1) and "actively involved" in stmt("Q94", "polar", 2)
    assert "unsure" in stmt("Q119", "polar", 0) and "doubt" in stmt("Q119", "polar", 4)
    assert "do not think" in stmt("Q122", "polar", 0) and "cannot tell" in stmt("Q122", "polar", 1)
    assert stmt("Q122", "polar", 2).startswith("I think")
    assert "first" in stmt("Q152", "polar", 1) and "second" in stmt("Q153", "polar", 1)
    assert "reject" in stmt("Q158", "polar", 1) and "accept" in stmt("Q158", "polar", 10)
    assert "agree" in stmt("Q176", "refined", 2) and "disagree" in stmt("Q176", "refined", 9)
    assert "never" in stmt("Q182", "refined", 1) and "always" in stmt("Q182", "refined", 10)
    assert "left" in stmt("Q240", "polar", 5) and "right" in stmt("Q240", "polar", 6)
    assert "more equal" in stmt("Q106", "refined", 2).split("over")[0]
    assert "luck" in stmt("Q110", "refined", 9).split("than")[0]
    assert stmt("Q221", "polar", 1) == stmt("Q221", "polar", 2) and "not eligible" in stmt("Q221", "polar", 4)
    assert "regularly" in stmt("Q171", "polar", 3) and "never" in stmt("Q171", "polar", 7)
    assert "never" in stmt("Q172", "polar", 8) and "now and then" in stmt("Q172", "polar", 7)


def test_demographic_statements_and_groups(cb) -> None:
    assert cb.demographic("B_COUNTRY").statement(276) == "My current country of residence is Germany"
    assert cb.demographic("B_COUNTRY_to_continent").group(276) == "Europe"
    assert cb.demographic("Q288R").group(1) == "low"
    assert cb.demographic("X003R").statement(6) == "My age group is 65+"
    assert cb.demographic("Q286").group(2) == cb.demographic("Q286").group(4)
    assert cb.demographic("Q263").statement(2) == "In this country I am an immigrant"
    assert cb.demographic("Q289").statement(-2) is None


@needs_reference
def test_generator_reproduces_the_committed_file(tmp_path: Path) -> None:
    from ivr.catalog.codebooks.make_wvs7 import build_codebook_dict, main

    committed = yaml.safe_load(builtin_codebook_path("wvs7").read_text(encoding="utf-8"))
    assert build_codebook_dict(REFERENCE) == committed
    out = tmp_path / "wvs7.yaml"
    main(["--reference", str(REFERENCE), "--out", str(out)])
    assert load_codebook(out).hash == load_codebook("wvs7").hash


def _fact(qid: str, groups: list[list[int]]) -> dict:
    codes = sorted(c for g in groups for c in g)
    return {
        "question_id": qid,
        "question_category": "X",
        "question_type": "mc_4",
        "all_answer_ids": codes,
        "answer_ids": groups,
    }


def test_generator_rejects_groupings_its_wording_does_not_fit() -> None:
    from ivr.catalog.codebooks.make_wvs7 import build_questions

    refined = [_fact("Q1", [[1], [2], [3], [4]])]
    with pytest.raises(CodebookError, match=r"Q1 has 2 polar templates but .* 3 polar option groups"):
        build_questions([_fact("Q1", [[1], [2], [3, 4]])], refined)
    with pytest.raises(CodebookError, match=r"no wording for question Q999"):
        build_questions([_fact("Q999", [[1, 2], [3, 4]])], [_fact("Q999", [[1], [2], [3], [4]])])


# --- codebook validation errors (ivr.catalog.validate) ------------------------------------------


def _tiny() -> dict:
    return {
        "name": "tiny",
        "categories": ["Habits"],
        "questions": [
            {
                "id": "H1",
                "category": "Habits",
                "type": "mc_3",
                "codes": [1, 2, 3],
                "refined": [
                    {"codes": [1], "statement": "I read every day"},
                    {"codes": [2], "statement": "I read every week"},
                    {"codes": [3], "statement": "I hardly read"},
                ],
                "polar": [{"codes": [1, 2], "statement": "I read often"}, {"codes": [3], "statement": "I rarely read"}],
            }
        ],
    }


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "my_codebook.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_valid_tiny_codebook_loads(tmp_path: Path) -> None:
    question = load_codebook(_write(tmp_path, _tiny())).question("H1")
    assert question.code_to_index("polar") == {1: 0, 2: 0, 3: 1}


def test_code_mapped_to_two_options_names_file_and_question(tmp_path: Path) -> None:
    data = _tiny()
    data["questions"][0]["polar"][1]["codes"] = [2, 3]
    path = _write(tmp_path, data)
    with pytest.raises(CodebookError, match=r"question 'H1'.*polar code 2 is mapped to two options") as err:
        load_codebook(path)
    assert str(path) in str(err.value)


def test_fewer_than_two_options_names_file_and_question(tmp_path: Path) -> None:
    data = _tiny()
    data["questions"][0]["polar"] = [{"codes": [1, 2, 3], "statement": "I read"}]
    path = _write(tmp_path, data)
    with pytest.raises(CodebookError, match=r"question 'H1'.*polar form has 1 option\(s\)") as err:
        load_codebook(path)
    assert str(path) in str(err.value)


def test_undeclared_category_names_file_and_question(tmp_path: Path) -> None:
    data = _tiny()
    data["questions"][0]["category"] = "Hobbies"
    path = _write(tmp_path, data)
    with pytest.raises(CodebookError, match=r"question 'H1'.*category 'Hobbies' is not declared") as err:
        load_codebook(path)
    assert str(path) in str(err.value)


def test_unknown_survey_name() -> None:
    with pytest.raises(CodebookError, match=r"'wvs9' is neither a built-in survey"):
        load_codebook("wvs9")
