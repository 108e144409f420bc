"""Table 1 of the study for any catalog: questions, statements, people, valid answers.

The keys are those of ``table1_dataset`` in the paper's results.json, so a built catalog can be
shown beside the published figures (``python -m ivr.catalog stats DIR --published``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ivr.catalog.store import Catalog
from ivr.errors import InputError
from ivr.paper import paper_table

# (key, label) in display order; the keys match results.json "table1_dataset".
ROWS = (
    ("questions", "value questions"),
    ("polar_statements", "polar statements"),
    ("refined_statements", "refined statements"),
    ("demographic_questions", "demographic questions"),
    ("people", "people"),
    ("total_valid_answers", "valid answers (total)"),
    ("valid_answers_per_person_mean", "valid answers per person (mean)"),
    ("valid_answers_per_person_std", "valid answers per person (std, ddof=0)"),
    ("people_with_all_questions", "people with every question answered"),
)


def catalog_stats(catalog: Catalog) -> dict[str, Any]:
    """Table 1's rows for a catalog.

    Args:
        catalog: any catalog.

    Returns:
        A dict with the keys of :data:`ROWS`. The per-person standard deviation is the
        population one (``ddof=0``); mean and std are 0 for an empty catalog.
    """
    cb = catalog.codebook
    n_valid = np.asarray(catalog.n_valid, dtype=np.int64)
    n_questions = len(cb.questions)
    return {
        "questions": n_questions,
        "polar_statements": int(sum(cb.n_options("polar"))),
        "refined_statements": int(sum(cb.n_options("refined"))),
        "demographic_questions": len(cb.demographics),
        "people": int(len(catalog)),
        "total_valid_answers": int(n_valid.sum()),
        "valid_answers_per_person_mean": round(float(n_valid.mean()), 4) if len(n_valid) else 0.0,
        "valid_answers_per_person_std": round(float(n_valid.std(ddof=0)), 4) if len(n_valid) else 0.0,
        "people_with_all_questions": int((n_valid == n_questions).sum()),
    }


def load_published(path: str | Path | None = None) -> dict[str, Any]:
    """The published Table 1 figures (``table1_dataset``).

    Args:
        path: the paper's results.json; None = the copy shipped with the package.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not JSON or has no ``table1_dataset`` object.
    """
    table = paper_table("table1_dataset", path)
    if not isinstance(table, dict):
        raise InputError(f"{path or 'ivr/paper_results.json'}: 'table1_dataset' is not an object")
    return table


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_stats(stats: dict[str, Any], published: dict[str, Any] | None = None, title: str = "") -> str:
    """A plain-text table of :func:`catalog_stats` (with a published column when given)."""
    header = ["", "this catalog"] + (["published"] if published is not None else [])
    rows = [header]
    for key, label in ROWS:
        row = [label, _fmt(stats.get(key))]
        if published is not None:
            row.append(_fmt(published.get(key)))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [title] if title else []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
