"""The study's published figures that experiments print beside their own (percent, or sigma points).

The figures come from :mod:`ivr.paper` (the packaged copy of the paper's results.json); a results
file given with ``--paper FILE`` replaces the tables it holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivr.paper import load_paper, paper_table

# the tables experiments draw on (figure6: continent, table4: demographics, table19/2: inequity,
# table14: demo_count)
TABLES = ("figure6_continent_models", "table4_demographics_training", "table19_inequity_by_dimension",
          "table2_inequity_index", "table14_zero_shot_polar")

TABLE19_COLUMNS = {"zero_shot_llama_3_1_8b": "Llama-3.1-8B zero-shot (paper, Table 19)",
                   "indievaluereasoner": "IndieValueReasoner (paper, Table 19)"}


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
