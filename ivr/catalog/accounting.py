"""Every answer of a survey file accounted for: the build report of ``python -m ivr.catalog build``.

Each cell of a question or demographic column is exactly one of: a valid answer (a code the codebook
lists), blank, a declared missing code (``missing_codes:`` of the question / demographic or of the
survey), or a code outside the codebook. The last is an error naming the column, the code and its
count (:func:`unlisted_error`) unless the codebook says ``unlisted_codes: missing`` (the built-in
WVS-7 codebook does, as the study read every unlisted code as missing). The counts come from the raw
codes of the file (:class:`CodeCounter`), independently of the code -> option tables; the report also
records, from the finished catalog, how many options each question's answers use, so constant and
empty questions are named (:func:`format_report`) and refused as probes (:mod:`ivr.protocol.probes`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ivr.catalog.codebook import Codebook

REPORT_FILE = "build_report.json"
_SPAN_LIMIT = 1 << 16


class CodeCounter:
    """Counts of every raw code (and of blanks) per column, over row blocks."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.blank = np.zeros(len(columns), dtype=np.int64)
        self.codes: list[Counter[int]] = [Counter() for _ in columns]
        self.rows = 0

    def add(self, block: np.ndarray) -> None:
        """A float64 [rows, columns] block of whole-number codes (NaN = blank)."""
        self.rows += len(block)
        present = ~np.isnan(block)
        self.blank += (~present).sum(axis=0)
        if not present.any():
            return
        lo, hi = int(np.nanmin(block)), int(np.nanmax(block))
        if hi - lo < _SPAN_LIMIT:  # the usual case: one bincount over (column, code) cells of the whole block
            col = np.broadcast_to(np.arange(block.shape[1]), block.shape)[present]
            span = hi - lo + 1
            cells = col * span + (block[present].astype(np.int64) - lo)
            counts = np.bincount(cells, minlength=block.shape[1] * span).reshape(-1, span)
            for j, k in zip(*np.nonzero(counts)):
                self.codes[int(j)][int(k) + lo] += int(counts[j, k])
            return
        for j in range(block.shape[1]):  # wide codes (region or country-of-birth numbers): column by column
            values, counts = np.unique(block[present[:, j], j].astype(np.int64), return_counts=True)
            for k, n in zip(values.tolist(), counts.tolist()):
                self.codes[j][k] += n


def _column_entry(counter: CodeCounter, j: int, listed: set[int], missing: set[int]) -> dict[str, Any]:
    counts = counter.codes[j]
    return {
        "read": counter.rows,
        "valid": sum(n for c, n in counts.items() if c in listed),
        "blank": int(counter.blank[j]),
        "missing_codes": {str(c): n for c, n in sorted(counts.items()) if c in missing},
        "unlisted": {str(c): n for c, n in sorted(counts.items()) if c not in listed and c not in missing},
    }


def account(
    codebook: Codebook, answers: CodeCounter, demographics: CodeCounter, file_columns: dict[str, str]
) -> dict[str, Any]:
    """The build report of one survey file (questions and demographic columns, in codebook order)."""
    survey_missing = set(codebook.missing_codes)
    questions = {}
    for j, q in enumerate(codebook.questions):
        entry = _column_entry(answers, j, set(q.codes), survey_missing | set(q.missing_codes))
        questions[q.id] = {"column": file_columns[q.id], **entry}
    demos = {}
    for j, col in enumerate(codebook.demographic_columns):
        readers = [d for d in codebook.demographics if d.column == col]
        listed = {c for d in readers for c in d.values}
        missing = survey_missing | {c for d in readers for c in d.missing_codes}
        demos[col] = {"column": file_columns[col], **_column_entry(demographics, j, listed, missing)}
    return {
        "rows": answers.rows,
        "unlisted_codes": codebook.unlisted_codes,
        "questions": questions,
        "demographics": demos,
    }


def add_option_use(report: dict[str, Any], codebook: Codebook, refined: np.ndarray, polar: np.ndarray) -> None:
    """Record per question how many refined / polar options its answers use (0 = empty, 1 = constant)."""
    for form, answers in (("refined", refined), ("polar", polar)):
        width = int(answers.max(initial=-1)) + 2  # option index + 1; column 0 counts the missing answers
        cells = np.arange(answers.shape[1]) * width + answers.astype(np.int64) + 1
        counts = np.bincount(cells.ravel(), minlength=answers.shape[1] * width).reshape(-1, width)[:, 1:]
        for j, q in enumerate(codebook.questions):
            report["questions"][q.id].setdefault("options_used", {})[form] = int((counts[j] > 0).sum())


def question_flags(entry: dict[str, Any]) -> list[str]:
    """``empty`` (no valid answer), ``constant`` (one refined option), ``polar constant`` (one polar option)."""
    used = entry.get("options_used", {})
    if entry["valid"] == 0:
        return ["empty"]
    if used.get("refined") == 1:
        return ["constant"]
    return ["polar constant"] if used.get("polar") == 1 else []


def unlisted_error_text(report: dict[str, Any], codebook: Codebook) -> str | None:
    """The error for codes outside the codebook (None when there are none or they count as missing)."""
    if report["unlisted_codes"] == "missing":
        return None
    found = [
        (kind, key, entry, code, n)
        for kind in ("questions", "demographics")
        for key, entry in report[kind].items()
        for code, n in entry["unlisted"].items()
    ]
    if not found:
        return None
    kind, key, entry, code, n = found[0]
    if kind == "questions":
        q = codebook.question(key)
        what = f"question {key!r} lists codes {list(q.codes)}" + (
            f" and missing codes {list(q.missing_codes)}" if q.missing_codes else ""
        )
        fix = (
            "add it to the question's 'codes:' (and to one option of 'refined:' and of 'polar:') if it is an "
            "answer, or to its 'missing_codes:' (or the survey's top-level 'missing_codes:') if it means no answer"
        )
    else:
        listed = sorted({c for d in codebook.demographics if d.column == key for c in d.values})
        what = f"demographic column {key!r} lists values {listed[:12]}" + (" ..." if len(listed) > 12 else "")
        fix = "add it to the demographic's 'values:', or to its 'missing_codes:' if it means no answer"
    head = f"column {entry['column']!r}: code {code} appears in {n:,} row(s) but is not in the codebook ({what}); {fix}"
    rest = [f"{e['column']} code {c} ({m:,})" for _, _, e, c, m in found[1:]]
    if rest:
        more = f" and {len(rest) - 6} more" if len(rest) > 6 else ""
        head += f"; also outside the codebook: {', '.join(rest[:6])}{more}"
    return head


def format_report(report: dict[str, Any], title: str = "") -> str:
    """The build summary: one row per question and per demographic column ([name]), then the totals."""
    header = (
        f"{'column':<16} {'read':>7} {'valid':>7} {'blank':>6} {'declared missing':>17} {'outside codebook':>17}  notes"
    )
    lines = [title] if title else []
    lines += [header, "-" * len(header)]
    totals = Counter()

    def row(name: str, entry: dict[str, Any], flags: list[str]) -> str:
        declared, outside = sum(entry["missing_codes"].values()), sum(entry["unlisted"].values())
        totals.update(
            read=entry["read"], valid=entry["valid"], blank=entry["blank"], declared=declared, outside=outside
        )
        notes = list(flags)
        if entry["missing_codes"]:
            notes.append("missing " + ", ".join(f"{c}: {n:,}" for c, n in entry["missing_codes"].items()))
        if entry["unlisted"]:
            notes.append("UNLISTED " + ", ".join(f"{c}: {n:,}" for c, n in entry["unlisted"].items()))
        return (
            f"{name[:16]:<16} {entry['read']:>7,} {entry['valid']:>7,} {entry['blank']:>6,} {declared:>17,} "
            f"{outside:>17,}  {'; '.join(notes)}"
        ).rstrip()

    for qid, entry in report["questions"].items():
        lines.append(row(qid, entry, question_flags(entry)))
    q_totals = dict(totals)
    for col, entry in report["demographics"].items():
        lines.append(row(f"[{col}]", entry, []))
    n_q = len(report["questions"])
    flagged = {f: [q for q, e in report["questions"].items() if f in question_flags(e)] for f in ("empty", "constant")}
    lines.append("-" * len(header))
    lines.append(
        f"{n_q} questions, {report['rows']:,} rows: {q_totals.get('valid', 0):,} valid answers of "
        f"{q_totals.get('read', 0):,} cells; missing: {q_totals.get('blank', 0):,} blank, "
        f"{q_totals.get('declared', 0):,} declared missing codes, {q_totals.get('outside', 0):,} codes "
        f"outside the codebook"
        + (" (read as missing: unlisted_codes: missing)" if report["unlisted_codes"] == "missing" else "")
    )
    fixes = {
        "empty": "no valid answer: drop them from the codebook, or fix their codes",
        "constant": "every answer is the same option: mark them 'probe: false' in the codebook (they stay "
        "demonstrations) or drop them",
    }
    for flag, qids in flagged.items():
        if qids:
            lines.append(f"{flag} question(s) {', '.join(qids)}: refused as probes; {fixes[flag]}")
    return "\n".join(lines)
