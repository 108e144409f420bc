"""The study's published figures (the paper's results.json), shipped with the package.

Every command that prints the paper's numbers beside ours reads them here: ``load_paper()`` gives
the packaged copy (``ivr/paper_results.json``, a verbatim copy of the project's results.json) and
``load_paper(path)`` a results file the user names with ``--paper`` / ``--published``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from ivr.errors import InputError, InputNotFoundError, IvrError

PACKAGED = "paper_results.json"
FLAGS = "--paper/--published"


class PaperTableError(IvrError, KeyError, ValueError):
    """A results file lacks a table. Both a KeyError and a ValueError, so either kind of handler catches it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def load_paper(path: str | Path | None = None) -> dict[str, Any]:
    """The whole results file: table key -> figures, as stored.

    Args:
        path: a results JSON file; None = the copy shipped with the package.

    Returns:
        The parsed JSON object (a fresh dict on every call, so callers may change it).

    Raises:
        FileNotFoundError: ``path`` does not exist (or the packaged copy is missing).
        ValueError: the file is not valid JSON, or not a JSON object of tables.
    """
    if path is None:
        source = f"ivr/{PACKAGED} (packaged copy)"
        try:
            text = (resources.files("ivr") / PACKAGED).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputNotFoundError(
                f"{source}: not found; reinstall the ivr package or pass {FLAGS} PATH to the paper's results.json"
            ) from None
    else:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise InputNotFoundError(
                f"{source}: results file not found; pass {FLAGS} PATH to the paper's results.json "
                "(or omit the path to use the packaged copy)"
            )
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{source}: not valid JSON ({err}); check the file given to {FLAGS}") from None
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: expected a JSON object of tables, got {type(data).__name__}; check the file given to {FLAGS}"
        )
    return data


def paper_table(key: str, path: str | Path | None = None) -> dict[str, Any] | list[Any]:
    """One published table, without its ``_about`` notes (keys starting with ``_``).

    Args:
        key: the table's key in results.json, e.g. ``"table3_methods"``.
        path: a results JSON file; None = the packaged copy.

    Returns:
        The table: a dict (notes removed) or a list, as stored.

    Raises:
        PaperTableError: the file has no ``key`` (a KeyError and a ValueError).
        ValueError: the entry is not a table (neither an object nor a list).
        FileNotFoundError: see :func:`load_paper`.
    """
    data = load_paper(path)
    source = f"ivr/{PACKAGED}" if path is None else str(path)
    if key not in data:
        tables = ", ".join(k for k in data if not k.startswith("_")) or "none"
        raise PaperTableError(
            f"{source}: has no '{key}' table (tables: {tables}); pass the paper's results.json to {FLAGS}"
        )
    table = data[key]
    if isinstance(table, dict):
        return {k: v for k, v in table.items() if not k.startswith("_")}
    if isinstance(table, list):
        return table
    raise InputError(
        f"{source}: '{key}' is a {type(table).__name__}, not a table; pass the paper's results.json to {FLAGS}"
    )
