"""Atomic writers of the files inside an output folder (text, JSON, CSV, PNG) and the side-by-side console
view of a table beside the published one (what experiments print and write as ``table.txt``)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.errors import InputError
from ivr.writable import writing

if TYPE_CHECKING:
    import pandas as pd


def clean_json(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars -> Python, nan/inf -> None, tuple -> list, keys -> str."""
    import numpy as np  # imported when first used: ivr.outputs stays cheap for commands that never write JSON

    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean_json(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _tmp_for(path: Path) -> Path:
    # a hidden name in the same folder, so the final rename is atomic on one filesystem
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written).

    Raises:
        OutputFolderError: the folder cannot be written (read-only, full); names it and the fix.
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_for(path)
        try:
            tmp.write_text(text)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically write ``data`` as indented JSON (nan -> null)."""
    return write_text(path, json.dumps(clean_json(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file.

    Raises:
        InputError: the file is not valid JSON (names the file; a ValueError).
    """
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err}); delete it to recompute that run") from None


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """Atomically write a table as CSV (floats with 4 decimals)."""
    return write_text(path, frame.to_csv(float_format="%.4f"))


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Atomically save a matplotlib figure as PNG and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
        try:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")  # long tick labels and headings are never cut off
            tmp.replace(path)
        finally:
            plt.close(fig)
            tmp.unlink(missing_ok=True)
    return path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame | None, title: str, decimals: int = 2) -> str:
    """Console text of our table and, when given, the published one below it with matching layout.

    Args:
        ours: our table.
        paper: the study's figures for the same table (None = nothing published).
        title: heading.
        decimals: digits shown after the decimal point.
    """
    import pandas as pd

    with pd.option_context(
        "display.width",
        200,
        "display.max_columns",
        30,
        "display.max_rows",
        200,
        "display.float_format",
        f"{{:.{decimals}f}}".format,
    ):
        text = f"== {title} (this run) ==\n{ours.to_string()}"
        if paper is None or paper.empty:
            return text + "\n(no published figure for this table)"
        return text + f"\n== {title} (published) ==\n{paper.to_string()}"
