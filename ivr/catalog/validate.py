"""Validation of codebook data: every problem is collected, then raised once with its location.

Codebooks are strict: a key the format does not know (``dimesion:``, ``group:``, ``txt:``) is an error
with a "did you mean", anywhere (top level, question, option, demographic, ``protocol:``); so is a
code listed both as an answer and as a missing code. A YAML flow list or mapping whose commas split
a name or a statement (``categories: [Trust, family, and friends]``) gets a quoting hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ivr.catalog.codebook import FORMS, PROTOCOL_KEYS, UNLISTED_CODES, CodebookError

TOP_KEYS = ("name", "roles", "categories", "questions", "demographics", "protocol", "missing_codes", "unlisted_codes")
QUESTION_KEYS = ("id", "category", "type", "text", "codes", "refined", "polar", "missing_codes", "ordered", "probe")
OPTION_KEYS = ("codes", "statement")
DEMOGRAPHIC_KEYS = ("id", "column", "name", "template", "values", "groups", "dimension", "missing_codes")
_QUOTE = "a comma inside a YAML flow mapping {...} ends the value: put the statement in quotes"


def _int_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _unknown_keys(entry: dict, known: Iterable[str], where: str, errors: list[str]) -> None:
    """One error per key of ``entry`` that is not in ``known``, with a "did you mean"."""
    from ivr.errors import did_you_mean

    known = tuple(known)
    for key in entry:
        if key in known:
            continue
        hint = did_you_mean(str(key), known)
        if entry[key] is None and not hint:
            hint = f" ({_QUOTE})"
        errors.append(f"{where}: unknown key {str(key)!r}{hint} (known keys: {', '.join(known)})")


def _codes_list(value: Any, where: str, key: str, errors: list[str]) -> set[int]:
    """The integer codes of a ``codes:`` / ``missing_codes:`` list (errors for anything else)."""
    if not isinstance(value, list) or any(_int_code(c) is None for c in value):
        errors.append(f"{where}: {key!r} must be a list of integer codes, got {value!r}")
        return set()
    return {int(_int_code(c)) for c in value}


def _split_category(name: Any, declared: list[Any]) -> str:
    """A quoting hint when ``name`` is consecutive declared categories joined by ", " (a split flow list)."""
    if not isinstance(name, str) or ", " not in name:
        return ""
    parts = [str(c) for c in declared]
    for i in range(len(parts)):
        for j in range(i + 2, len(parts) + 1):
            if ", ".join(parts[i:j]) == name:
                return (
                    f"; the flow list under 'categories' split it at its commas into {parts[i:j]}: quote the "
                    f'name there (categories: ["{name}", ...])'
                )
    return ""


def _check_options(q: dict, form: str, valid: set[int], where: str, errors: list[str]) -> None:
    options = q.get(form)
    if not isinstance(options, list):
        errors.append(f"{where}: missing '{form}' option list")
        return
    if len(options) < 2:
        errors.append(f"{where}: {form} form has {len(options)} option(s); a question needs at least 2")
    owner: dict[int, int] = {}
    statements: set[str] = set()
    for k, opt in enumerate(options):
        if isinstance(opt, dict):
            _unknown_keys(opt, OPTION_KEYS, f"{where}: {form} option {k}", errors)
        if not isinstance(opt, dict) or "codes" not in opt or "statement" not in opt:
            errors.append(f"{where}: {form} option {k} needs 'codes' and 'statement'")
            continue
        stmt = opt["statement"]
        if not isinstance(stmt, str) or not stmt.strip():
            errors.append(f"{where}: {form} option {k} has an empty statement")
        elif stmt in statements:
            errors.append(f"{where}: {form} option {k} repeats the statement {stmt!r}")
        statements.add(stmt if isinstance(stmt, str) else "")
        for c in opt["codes"] if isinstance(opt["codes"], list) else [opt["codes"]]:
            code = _int_code(c)
            if code is None:
                errors.append(f"{where}: {form} option {k} has non-integer code {c!r}")
                continue
            if code not in valid:
                errors.append(f"{where}: {form} option {k} uses code {code} not listed in 'codes'")
            if code in owner and owner[code] != k:
                errors.append(f"{where}: {form} code {code} is mapped to two options ({owner[code]} and {k})")
            owner[code] = k
    missing = sorted(valid - set(owner))
    if missing and len(options) >= 2:
        errors.append(f"{where}: {form} form leaves code(s) {missing} without an option")


def _check_question(q: Any, i: int, data: dict, seen: set[str], survey_missing: set[int], errors: list[str]) -> None:
    if not isinstance(q, dict):
        errors.append(f"questions[{i}]: expected a mapping, got {type(q).__name__}")
        return
    qid = q.get("id")
    where = f"question {qid!r} (questions[{i}])"
    _unknown_keys(q, QUESTION_KEYS, where if qid else f"questions[{i}]", errors)
    if not qid:
        errors.append(f"questions[{i}]: missing 'id'")
        return
    if str(qid) in seen:
        errors.append(f"{where}: duplicate question id")
    seen.add(str(qid))
    declared = list(data["categories"]) if isinstance(data["categories"], list) else []
    if q.get("category") not in declared:
        errors.append(
            f"{where}: category {q.get('category')!r} is not declared under 'categories' "
            f"(declared: {declared}){_split_category(q.get('category'), declared)}"
        )
    for key in ("ordered", "probe"):
        if key in q and not isinstance(q[key], bool):
            errors.append(f"{where}: {key!r} must be true or false, got {q[key]!r}")
    codes = q.get("codes")
    if not isinstance(codes, list) or not codes:
        errors.append(f"{where}: 'codes' must be a non-empty list of integer answer codes")
        return
    bad = [c for c in codes if _int_code(c) is None]
    if bad:
        errors.append(f"{where}: non-integer answer code(s) {bad} in 'codes'")
        return
    valid = {int(_int_code(c)) for c in codes}
    own_missing = _codes_list(q["missing_codes"], where, "missing_codes", errors) if "missing_codes" in q else set()
    for missing, level in ((own_missing, "its 'missing_codes'"), (survey_missing, "the survey's 'missing_codes'")):
        both = sorted(valid & missing)
        if both:
            errors.append(
                f"{where}: code(s) {both} are listed both under 'codes' (answers) and under {level} "
                "(no answer); remove them from one of the two"
            )
    for form in FORMS:
        _check_options(q, form, valid, where, errors)


def _check_demographic(d: Any, i: int, seen: set[str], survey_missing: set[int], errors: list[str]) -> None:
    if not isinstance(d, dict) or not d.get("id"):
        errors.append(f"demographics[{i}]: expected a mapping with an 'id'")
        return
    where = f"demographic {d['id']!r} (demographics[{i}])"
    _unknown_keys(d, DEMOGRAPHIC_KEYS, where, errors)
    if str(d["id"]) in seen:
        errors.append(f"{where}: duplicate demographic id")
    seen.add(str(d["id"]))
    values = d.get("values")
    if not isinstance(values, dict) or not values:
        errors.append(f"{where}: 'values' must map integer codes to value names")
        return
    codes = set()
    for k in values:
        code = _int_code(k)
        if code is None:
            errors.append(f"{where}: value code {k!r} is not an integer")
        elif code < 0:
            errors.append(
                f"{where}: value code {code} is negative; demographic codes must be 0 or more "
                "(recode the column, or list the code under 'missing_codes' if it means no answer)"
            )
        else:
            codes.add(code)
    own_missing = _codes_list(d["missing_codes"], where, "missing_codes", errors) if "missing_codes" in d else set()
    for missing, level in ((own_missing, "its 'missing_codes'"), (survey_missing, "the survey's 'missing_codes'")):
        both = sorted(codes & missing)
        if both:
            errors.append(
                f"{where}: code(s) {both} are listed both under 'values' and under {level}; "
                "remove them from one of the two"
            )
    template = d.get("template", "{value}")
    if "{value}" not in str(template):
        errors.append(f"{where}: template {template!r} has no '{{value}}' slot")
    groups = d.get("groups")
    if groups is not None and not isinstance(groups, dict):
        errors.append(f"{where}: 'groups' must map values to group names")


def _check_protocol(protocol: Any, errors: list[str]) -> None:
    """The optional ``protocol:`` section: known keys with values of the right kind."""
    if protocol is None:
        return
    if not isinstance(protocol, dict):
        errors.append(f"protocol: expected a mapping of {list(PROTOCOL_KEYS)}, got {type(protocol).__name__}")
        return
    from ivr.errors import did_you_mean

    for key, value in protocol.items():
        if key not in PROTOCOL_KEYS:
            errors.append(
                f"protocol.{key}: unknown key{did_you_mean(str(key), PROTOCOL_KEYS)}; known keys: {list(PROTOCOL_KEYS)}"
            )
        if key not in PROTOCOL_KEYS or value is None:
            continue
        if key in ("eval_demo_count", "demo_count"):
            if not (
                _int_code(value) is not None and _int_code(value) >= 0 or value in ("all", "mixed", "rand", "mixed+200")
            ):
                errors.append(f"protocol.{key}: {value!r} is not an integer, 'all', 'mixed', 'rand' or 'mixed+200'")
        elif key == "split_rule":
            if value not in ("study", "stratified"):
                errors.append(f"protocol.split_rule: {value!r} is not 'study' or 'stratified'")
        elif isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "min_valid" else 1):
            errors.append(f"protocol.{key}: {value!r} is not an integer >= {0 if key == 'min_valid' else 1}")


def validate_codebook_dict(data: Any, source: str) -> None:
    """Check a codebook in file form; raise one :class:`CodebookError` listing every problem."""
    if not isinstance(data, dict):
        raise CodebookError(f"{source}: a codebook must be a mapping with 'name', 'categories', 'questions'")
    errors: list[str] = []
    _unknown_keys(data, TOP_KEYS, "top level", errors)
    for key in ("name", "categories", "questions"):
        if not data.get(key):
            errors.append(f"missing required key {key!r}")
    if errors:
        raise CodebookError(f"{source}: " + "; ".join(errors))
    survey_missing = (
        _codes_list(data["missing_codes"], "top level", "missing_codes", errors) if "missing_codes" in data else set()
    )
    if data.get("unlisted_codes", "error") not in UNLISTED_CODES:
        errors.append(f"unlisted_codes: {data['unlisted_codes']!r} is not one of {list(UNLISTED_CODES)}")
    seen: set[str] = set()
    for i, q in enumerate(data["questions"]):
        _check_question(q, i, data, seen, survey_missing, errors)
    seen_demo: set[str] = set()
    for i, d in enumerate(data.get("demographics", []) or []):
        _check_demographic(d, i, seen_demo, survey_missing, errors)
    roles = data.get("roles", {}) or {}
    demo_ids = {str(d.get("id")) for d in data.get("demographics", []) or [] if isinstance(d, dict)}
    for role, ref in roles.items():
        if role != "person_id" and ref not in demo_ids:
            errors.append(f"roles.{role}: {ref!r} is not a declared demographic id")
    _check_protocol(data.get("protocol"), errors)
    if errors:
        shown = errors[:20] + ([f"... and {len(errors) - 20} more"] if len(errors) > 20 else [])
        raise CodebookError(f"{source}: invalid codebook:\n  - " + "\n  - ".join(shown))
