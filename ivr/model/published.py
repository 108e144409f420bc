"""The study's Table 3 rows (percent) printed beside ours by ``ivr.evaluate --published``.

The figures come from :mod:`ivr.paper` (the packaged copy of the paper's results.json); this module
only picks the rows worth showing beside a fine-tuned reasoner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivr.paper import paper_table

# the strongest baselines, the zero-shot base model and the study's reasoner variants, in Table 3 order
ROWS = (
    "Global (majority vote)",
    "Resemble (all, top 1)",
    "Resemble (all, top cluster)",
    "Llama-3.1-8B (200 demo.)",
    "IVR [probe=p, demo=mixed, N=800]",
    "IVR [probe=r, demo=mixed, N=800]",
    "IVR [probe=p+r, demo=200, N=800]",
    "IVR [probe=p+r, demo=mixed, N=800]",
    "IVR [probe=p+r, demo=mixed+200, N=800]",
    "IVR [probe=p+r, demo=mixed+200, N=1600]",
)


def published_table3(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The :data:`ROWS` of the paper's Table 3 (``table3_methods``) that the results file holds.

    Args:
        path: a results JSON file; None = the packaged copy.

    Raises:
        FileNotFoundError / ValueError: a missing or malformed file, or one without ``table3_methods``.
    """
    table = paper_table("table3_methods", path)
    return {name: table[name] for name in ROWS if name in table}


def __getattr__(name: str) -> Any:
    # ``PUBLISHED_TABLE3`` stays importable, read on first use rather than at import time
    if name == "PUBLISHED_TABLE3":
        return published_table3()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
