"""The study's published figures that experiments print beside their own (percent, or sigma points).

The figures come from :mod:`ivr.paper` (the packaged copy of the paper's results.json); a results
file given with ``--paper FILE`` replaces the tables it holds. They are the study's WVS-7 figures, so an
experiment prints them only beside a WVS-7 catalog (:func:`is_wvs7`: the catalog's codebook is the
built-in ``wvs7`` one, as real WVS-7 builds and the synthetic populations are); another survey's
results stand alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivr.paper import load_paper, paper_table

# the tables experiments draw on (figure6: continent, table4: demographics, table19/2: inequity,
# table14: demo_count)
TABLES = (
    "figure6_continent_models",
    "table4_demographics_training",
    "table19_inequity_by_dimension",
    "table2_inequity_index",
    "table14_zero_shot_polar",
)

TABLE19_COLUMNS = {
    "zero_shot_llama_3_1_8b": "Llama-3.1-8B zero-shot (paper, Table 19)",
    "indievaluereasoner": "IndieValueReasoner (paper, Table 19)",
}


def is_wvs7(codebook: Any) -> bool:
    """Whether a catalog's codebook is WVS-7's: named ``wvs7`` and asking the built-in codebook's questions.

    The name alone is not enough (an own survey may be called anything); the question ids are the
    survey's own, so a renamed copy of another survey never borrows the study's figures.
    """
    if getattr(codebook, "name", None) != "wvs7":
        return False
    from ivr.catalog.codebook import load_codebook

    return list(codebook.question_ids) == list(load_codebook("wvs7").question_ids)


def load_published(path: str | Path | None = None) -> dict[str, Any]:
    """The experiments' published tables, from the packaged copy with a results file's tables replacing them.

    Args:
        path: optional results JSON (``--paper FILE``); None = the packaged copy only.

    Returns:
        Table key -> table (notes such as ``_about`` removed) for each of :data:`TABLES`.

    Raises:
        FileNotFoundError / ValueError: a missing or malformed file (named).
    """
    given = load_paper(path) if path is not None else {}
    return {key: paper_table(key, path if key in given else None) for key in TABLES}
