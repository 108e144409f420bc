"""Load a codebook from the published IndieValueCatalog metadata (three jsonl files).

A user who holds the original study's metadata files can reproduce its exact statement wording
with ``--codebook FOLDER``: the folder must hold ``statements_meta_data.jsonl`` (polar form),
``refined_statements_meta_data.jsonl`` (refined form) and ``demographics_meta_data.jsonl``.
Some releases store list/dict fields as JSON strings inside the JSON record; both are accepted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ivr.catalog.codebook import Codebook, CodebookError, codebook_from_dict

POLAR_FILE = "statements_meta_data.jsonl"
REFINED_FILE = "refined_statements_meta_data.jsonl"
DEMOGRAPHICS_FILE = "demographics_meta_data.jsonl"

# Demographic id -> inequity dimension name (the 16 dimensions of the study).
DIMENSIONS: dict[str, str] = {
    "B_COUNTRY": "Country",
    "B_COUNTRY_to_continent": "Continent",
    "Q260": "Sex",
    "X003R": "Age",
    "Q263": "Immigration Status",
    "Q266": "Birth Country",
    "Q269": "Citizenship",
    "Q273": "Marital Status",
    "Q275": "Education",
    "Q279": "Employment Status",
    "Q281": "Occupation",
    "Q284": "Employment Sector",
    "Q286": "Family Saving",
    "Q287": "Social Class",
    "Q288R": "Income",
    "Q289": "Religion",
}
PUBLISHED_ROLES = {
    "person_id": "D_INTERVIEW",
    "country": "B_COUNTRY",
    "continent": "B_COUNTRY_to_continent",
    "religion": "Q289",
}
_SLOT = "{answer_var}"
#: How the study read WVS-7 answers: the negative codes (-1 don't know, -2 no answer, -3 not applicable,
#: -4 not asked, -5 missing) and any code a question does not list are missing answers.
WVS_READING = {"missing_codes": [-5, -4, -3, -2, -1], "unlisted_codes": "missing"}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a jsonl file of JSON objects (blank lines skipped).

    Raises:
        CodebookError: naming the file (and line) when it is missing, empty or malformed.
    """
    if not path.is_file():
        raise CodebookError(
            f"{path}: file not found (a published codebook folder needs "
            f"{POLAR_FILE}, {REFINED_FILE} and {DEMOGRAPHICS_FILE})"
        )
    records = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise CodebookError(f"{path}:{line_no}: not valid JSON: {err.msg}") from err
            if not isinstance(rec, dict):
                raise CodebookError(f"{path}:{line_no}: expected a JSON object, got {type(rec).__name__}")
            rec["_line"] = line_no
            records.append(rec)
    if not records:
        raise CodebookError(f"{path}: file is empty")
    return records


def _field(rec: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """A required field, decoding it when a list/dict was stored as a JSON string."""
    if key not in rec:
        raise CodebookError(f"{where}: missing field {key!r}")
    value = rec[key]
    if kind in (list, dict) and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise CodebookError(f"{where}: field {key!r} is a string but not valid JSON: {err.msg}") from err
    if not isinstance(value, kind):
        raise CodebookError(f"{where}: field {key!r} should be a {kind.__name__}, got {type(value).__name__}")
    return value


def _code(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
        raise CodebookError(f"{where}: field {key!r} holds a non-integer code {value!r}")
    return int(value)


def _groups(rec: dict[str, Any], where: str) -> list[list[int]]:
    groups = _field(rec, "answer_ids", list, where)
    if not groups or not all(isinstance(g, list) and g for g in groups):
        raise CodebookError(f"{where}: field 'answer_ids' must be a list of non-empty code lists")
    return [[_code(c, "answer_ids", where) for c in g] for g in groups]


def _template(raw: str, where: str) -> str:
    if _SLOT not in raw:
        raise CodebookError(f"{where}: statement_template {raw!r} has no {_SLOT} slot")
    # Escape any other braces so str.format only fills our slot.
    return raw.replace("{", "{{").replace("}", "}}").replace("{{answer_var}}", "{value}")


def demographic_values(rec: dict[str, Any], source: str, line: int) -> dict[int, str]:
    """Raw code -> value name of one published demographic record.

    Code-lookup records carry ``answer_vars_map``; enumerated records carry ``answer_ids`` code
    groups with one ``answer_vars`` entry per group.
    """
    where = f"{source}:{line}: demographic {rec.get('question_id')!r}"
    if "answer_vars_map" in rec:
        mapping = _field(rec, "answer_vars_map", dict, where)
        return {_code(k, "answer_vars_map", where): str(v) for k, v in mapping.items()}
    groups = _groups(rec, where)
    names = _field(rec, "answer_vars", list, where)
    if len(names) != len(groups):
        raise CodebookError(f"{where}: {len(groups)} answer_ids groups but {len(names)} answer_vars")
    return {c: str(name) for g, name in zip(groups, names) for c in g}


def _question(polar: dict[str, Any], refined: dict[str, Any], paths: tuple[Path, Path]) -> dict[str, Any]:
    forms = {}
    for form, rec, path in (("polar", polar, paths[0]), ("refined", refined, paths[1])):
        where = f"{path}:{rec['_line']}: question {rec.get('question_id')!r}"
        groups = _groups(rec, where)
        statements = _field(rec, "converted_statements", list, where)
        if len(statements) != len(groups):
            raise CodebookError(f"{where}: {len(groups)} answer_ids groups but {len(statements)} converted_statements")
        if rec.get("is_refined") is (form == "polar"):
            raise CodebookError(
                f"{where}: is_refined={rec['is_refined']} in the {form} file; are the polar and refined files swapped?"
            )
        forms[form] = [{"codes": g, "statement": str(s)} for g, s in zip(groups, statements)]
    where = f"{paths[0]}:{polar['_line']}: question {polar.get('question_id')!r}"
    codes = [_code(c, "all_answer_ids", where) for c in _field(polar, "all_answer_ids", list, where)]
    text = str(polar.get("original_question", "")).strip()
    if str(polar.get("question_vars", "")).strip():
        text += f" [{str(polar['question_vars']).strip()}]"
    return {
        "id": str(_field(polar, "question_id", str, where)),
        "category": _field(polar, "question_category", str, where),
        "type": str(polar.get("question_type", "")),
        "codes": codes,
        "text": text.strip(),
        **forms,
    }


def _demographic(rec: dict[str, Any], path: Path) -> dict[str, Any]:
    did = rec.get("question_id")
    where = f"{path}:{rec['_line']}: demographic {did!r}"
    did = _field(rec, "question_id", str, where)
    template = _template(_field(rec, "statement_template", str, where), where)
    values = demographic_values(rec, str(path), rec["_line"])
    if "answer_vars_map" not in rec:
        # Enumerated records list every statement: our template must reproduce them exactly.
        statements = _field(rec, "converted_statements", list, where)
        names = _field(rec, "answer_vars", list, where)
        for name, stmt in zip(names, statements):
            if template.format(value=name) != stmt:
                raise CodebookError(
                    f"{where}: statement {stmt!r} does not follow its template {rec['statement_template']!r}"
                )
    entry: dict[str, Any] = {
        "id": did,
        "column": str(rec.get("question_id_converted", did)),
        "name": str(rec.get("question_category", did)),
        "template": template,
        "values": values,
    }
    if did in DIMENSIONS:
        entry["dimension"] = DIMENSIONS[did]
    return entry


def load_published_codebook(folder: str | Path, name: str = "wvs7_published") -> Codebook:
    """Load the three published metadata jsonl files of ``folder`` as a :class:`Codebook`.

    Args:
        folder: folder holding statements_meta_data.jsonl, refined_statements_meta_data.jsonl
            and demographics_meta_data.jsonl.
        name: the codebook name recorded in catalog manifests.

    Returns:
        The validated codebook, with the published statements verbatim.

    Raises:
        CodebookError: naming the file and line of a missing, malformed or inconsistent record.
    """
    folder = Path(folder)
    paths = (folder / POLAR_FILE, folder / REFINED_FILE)
    polar, refined = read_jsonl(paths[0]), read_jsonl(paths[1])
    if len(polar) != len(refined):
        raise CodebookError(f"{folder}: {POLAR_FILE} has {len(polar)} questions but {REFINED_FILE} has {len(refined)}")
    for p, r in zip(polar, refined):
        if p.get("question_id") != r.get("question_id"):
            raise CodebookError(
                f"{paths[1]}:{r['_line']}: question {r.get('question_id')!r} does not match "
                f"{p.get('question_id')!r} at {paths[0]}:{p['_line']} (files must list the same "
                "questions in the same order)"
            )
    questions = [_question(p, r, paths) for p, r in zip(polar, refined)]
    demo_path = folder / DEMOGRAPHICS_FILE
    demographics = [_demographic(rec, demo_path) for rec in read_jsonl(demo_path)]
    demo_ids = {d["id"] for d in demographics}
    data = {
        "name": name,
        "roles": {k: v for k, v in PUBLISHED_ROLES.items() if k == "person_id" or v in demo_ids},
        **WVS_READING,
        "categories": list(dict.fromkeys(q["category"] for q in questions)),
        "questions": questions,
        "demographics": demographics,
    }
    return codebook_from_dict(data, source=str(folder))
