"""Validation of codebook data: every problem is collected, then raised once with its location."""

from __future__ import annotations

from typing import Any

from ivr.catalog.codebook import FORMS, PROTOCOL_KEYS, CodebookError


def _int_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _check_question(q: Any, i: int, categories: set[str], seen: set[str], errors: list[str]) -> None:
    if not isinstance(q, dict):
        errors.append(f"questions[{i}]: expected a mapping, got {type(q).__name__}")
        return
    qid = q.get("id")
    where = f"question {qid!r} (questions[{i}])"
    if not qid:
        errors.append(f"questions[{i}]: missing 'id'")
        return
    if str(qid) in seen:
        errors.append(f"{where}: duplicate question id")
    seen.add(str(qid))
    if q.get("category") not in categories:
        errors.append(
            f"{where}: category {q.get('category')!r} is not declared under 'categories' "
            f"(declared: {sorted(categories)})"
        )
    codes = q.get("codes")
    if not isinstance(codes, list) or not codes:
        errors.append(f"{where}: 'codes' must be a non-empty list of integer answer codes")
        return
    bad = [c for c in codes if _int_code(c) is None]
    if bad:
        errors.append(f"{where}: non-integer answer code(s) {bad} in 'codes'")
        return
    valid = {_int_code(c) for c in codes}
    for form in FORMS:
        options = q.get(form)
        if not isinstance(options, list):
            errors.append(f"{where}: missing '{form}' option list")
            continue
        if len(options) < 2:
            errors.append(f"{where}: {form} form has {len(options)} option(s); a question needs at least 2")
        owner: dict[int, int] = {}
        statements: set[str] = set()
        for k, opt in enumerate(options):
            if not isinstance(opt, dict) or "codes" not in opt or "statement" not in opt:
                errors.append(f"{where}: {form} option {k} needs 'codes' and 'statement'")
                continue
            stmt = opt["statement"]
            if not isinstance(stmt, str) or not stmt.strip():
                errors.append(f"{where}: {form} option {k} has an empty statement")
            elif stmt in statements:
                errors.append(f"{where}: {form} option {k} repeats the statement {stmt!r}")
            statements.add(stmt if isinstance(stmt, str) else "")
            for c in opt["codes"]:
                code = _int_code(c)
                if code is None:
                    errors.append(f"{where}: {form} option {k} has non-integer code {c!r}")
                    continue
                if code not in valid:
                    errors.append(f"{where}: {form} option {k} uses code {code} not listed in 'codes'")
                if code in owner and owner[code] != k:
                    errors.append(
                        f"{where}: {form} code {code} is mapped to two options ({owner[code]} and {k})"
                    )
                owner[code] = k
        missing = sorted(valid - set(owner))
        if missing and isinstance(options, list) and len(options) >= 2:
            errors.append(f"{where}: {form} form leaves code(s) {missing} without an option")


def _check_demographic(d: Any, i: int, seen: set[str], errors: list[str]) -> None:
    if not isinstance(d, dict) or not d.get("id"):
        errors.append(f"demographics[{i}]: expected a mapping with an 'id'")
        return
    where = f"demographic {d['id']!r} (demographics[{i}])"
    if str(d["id"]) in seen:
        errors.append(f"{where}: duplicate demographic id")
    seen.add(str(d["id"]))
    values = d.get("values")
    if not isinstance(values, dict) or not values:
        errors.append(f"{where}: 'values' must map integer codes to value names")
        return
    for k in values:
        if _int_code(k) is None:
            errors.append(f"{where}: value code {k!r} is not an integer")
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
    for key, value in protocol.items():
        if key not in PROTOCOL_KEYS:
            errors.append(f"protocol.{key}: unknown key; known keys: {list(PROTOCOL_KEYS)}")
        elif value is None:
            continue
        elif key in ("eval_demo_count", "demo_count"):
            if not (_int_code(value) is not None and _int_code(value) >= 0
                    or value in ("all", "mixed", "rand", "mixed+200")):
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
    for key in ("name", "categories", "questions"):
        if not data.get(key):
            errors.append(f"missing required key {key!r}")
    if errors:
        raise CodebookError(f"{source}: " + "; ".join(errors))
    categories = set(data["categories"])
    seen: set[str] = set()
    for i, q in enumerate(data["questions"]):
        _check_question(q, i, categories, seen, errors)
    seen_demo: set[str] = set()
    for i, d in enumerate(data.get("demographics", []) or []):
        _check_demographic(d, i, seen_demo, errors)
    roles = data.get("roles", {}) or {}
    demo_ids = {str(d.get("id")) for d in data.get("demographics", []) or [] if isinstance(d, dict)}
    for role, ref in roles.items():
        if role != "person_id" and ref not in demo_ids:
            errors.append(f"roles.{role}: {ref!r} is not a declared demographic id")
    _check_protocol(data.get("protocol"), errors)
    if errors:
        shown = errors[:20] + ([f"... and {len(errors) - 20} more"] if len(errors) > 20 else [])
        raise CodebookError(f"{source}: invalid codebook:\n  - " + "\n  - ".join(shown))
