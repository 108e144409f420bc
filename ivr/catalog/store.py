"""The on-disk catalog: one Parquet row per person plus a JSON manifest and a codebook copy.

Layout of a catalog folder::

    catalog.parquet   person id, <QID>_polar / <QID>_refined (int8, -1 missing),
                      demographic columns (int32 raw codes, -1 missing)
    manifest.json     codebook name + hash, rows, build time, source, extra (generator settings)
    codebook.json     the codebook the catalog was built with (self-contained folders)
    build_report.json catalogs built from a survey file: every answer accounted for (valid, blank,
                      declared missing, outside the codebook) per question and demographic column

Writes go to a temporary sibling folder that is renamed into place, so a failed build never
leaves a half-written catalog; an existing folder is replaced only when it is an earlier catalog
(:mod:`ivr.outputs`: the project's marker file, or an older catalog folder's exact files).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.catalog.accounting import REPORT_FILE
from ivr.catalog.codebook import FORMS, Codebook, codebook_from_dict
from ivr.errors import InputError, InputNotFoundError
from ivr.outputs import OutputKind, write_output

MISSING = -1


@dataclass
class Catalog:
    """People x value questions as option indices, plus raw demographic codes.

    Attributes:
        codebook: the codebook the answers are indexed by.
        person_ids: shape [P] (int64 or object for string ids).
        polar: int8 [P, Q] polar option index, -1 missing; Q follows ``codebook.questions``.
        refined: int8 [P, Q] refined option index, -1 missing.
        demographics: int32 [P, C] raw demographic codes, -1 missing;
            C follows ``codebook.demographic_columns``.
        manifest: the manifest dict (empty for in-memory catalogs).
        report: the build report of a catalog built from a survey file (:mod:`ivr.catalog.accounting`),
            else empty.
        folder: the folder :func:`load_catalog` read it from (None for in-memory catalogs).
    """

    codebook: Codebook
    person_ids: np.ndarray
    polar: np.ndarray
    refined: np.ndarray
    demographics: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None

    def __len__(self) -> int:
        return len(self.person_ids)

    def answers(self, form: str) -> np.ndarray:
        """int8 [P, Q] option indices of one form."""
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r}; expected one of {FORMS}")
        return self.polar if form == "polar" else self.refined

    @cached_property
    def n_valid(self) -> np.ndarray:
        """Valid answers per person (validity is the same in both forms)."""
        return (self.refined >= 0).sum(axis=1)

    def demographic_codes(self, demo_id: str) -> np.ndarray:
        """Raw codes [P] of the column a demographic reads."""
        demo = self.codebook.demographic(demo_id)
        return self.demographics[:, self.codebook.demographic_columns.index(demo.column)]

    def _map_codes(self, demo_id: str, fn: Callable[[int], str | None]) -> np.ndarray:
        codes = self.demographic_codes(demo_id)
        uniq, inv = np.unique(codes, return_inverse=True)
        table = np.array([fn(int(c)) if c >= 0 else None for c in uniq], dtype=object)
        return table[inv]

    def demographic_values(self, demo_id: str) -> np.ndarray:
        """Value names [P] (object array, None where missing)."""
        demo = self.codebook.demographic(demo_id)
        return self._map_codes(demo_id, lambda c: demo.values.get(c))

    def demographic_statements(self, demo_id: str) -> np.ndarray:
        """Natural-language demographic statements [P] (None where missing)."""
        return self._map_codes(demo_id, self.codebook.demographic(demo_id).statement)

    def groups(self, dimension: str) -> np.ndarray:
        """Per-group metric labels [P] for a dimension name (None where missing)."""
        if dimension not in self.codebook.dimensions:
            raise KeyError(
                f"dimension {dimension!r} is not defined by codebook {self.codebook.name!r}; "
                f"defined: {sorted(self.codebook.dimensions)}"
            )
        demo = self.codebook.dimensions[dimension]
        return self._map_codes(demo.id, demo.group)

    def subset(self, index: np.ndarray) -> Catalog:
        """A catalog of the given rows (an index array or boolean mask)."""
        return Catalog(
            self.codebook,
            self.person_ids[index],
            self.polar[index],
            self.refined[index],
            self.demographics[index],
            dict(self.manifest),
            self.report,
        )

    def to_frame(self) -> pd.DataFrame:
        """The Parquet table: id column, readable per-question columns, demographic columns."""
        cb = self.codebook
        cols: dict[str, Any] = {cb.id_column: self.person_ids}
        for j, qid in enumerate(cb.question_ids):
            cols[f"{qid}_polar"] = self.polar[:, j].astype(np.int8)
            cols[f"{qid}_refined"] = self.refined[:, j].astype(np.int8)
        for c, name in enumerate(cb.demographic_columns):
            cols[name] = self.demographics[:, c].astype(np.int32)
        return pd.DataFrame(cols)


def atomic_dir(
    out: str | Path,
    write: Callable[[Path], None],
    kind: str | OutputKind = "output",
    overwrite: bool = False,
    flag: str = "--out",
    replace_only_if: str | None = None,
) -> Path:
    """Run ``write(tmp_dir)`` and move the result to ``out``; nothing appears at ``out`` on error.

    An existing ``out`` is replaced only after ``write`` succeeded, and only when it is an earlier
    output of the same ``kind`` holding nothing but files ivr wrote (:func:`ivr.outputs.write_output`).

    Args:
        out: destination folder.
        write: fills the temporary folder.
        kind: the output kind (:data:`ivr.outputs.KINDS`) recorded in the folder's marker.
        overwrite: allow replacing an ivr output of another kind.
        flag: the flag that named ``out`` (for error messages).
        replace_only_if: ignored (kept for callers of the previous version; ownership replaces it).

    Raises:
        OutputFolderError: ``out`` holds files ivr did not write, or another kind without ``overwrite``.
    """
    return write_output(Path(out), kind, write, overwrite=overwrite, flag=flag)


def catalog_manifest(catalog: Catalog, source: str = "", extra: dict | None = None) -> dict[str, Any]:
    """The manifest of a catalog folder (codebook name + hash, rows, build time, source, extra)."""
    return {
        "codebook": catalog.codebook.name,
        "codebook_hash": catalog.codebook.hash,
        "rows": int(len(catalog)),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source,
        **(extra or {}),
    }


def write_catalog_files(catalog: Catalog, folder: Path, manifest: dict[str, Any]) -> None:
    """Write the three catalog files into an existing (temporary) folder."""
    catalog.to_frame().to_parquet(folder / "catalog.parquet", index=False)
    (folder / "codebook.json").write_text(json.dumps(catalog.codebook.to_dict(), ensure_ascii=False))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if catalog.report:
        (folder / REPORT_FILE).write_text(json.dumps(catalog.report, indent=1))


def write_catalog(
    catalog: Catalog,
    out: str | Path,
    source: str = "",
    extra: dict | None = None,
    overwrite: bool = False,
    flag: str = "--out",
) -> Path:
    """Write a catalog folder atomically.

    Args:
        catalog: the catalog to write.
        out: destination folder (an earlier catalog there is replaced; anything else is refused).
        source: where the answers came from (input file, or ``synthetic``).
        extra: more manifest entries (e.g. generator settings).
        overwrite: allow replacing an ivr output of another kind.
        flag: the flag that named ``out``.

    Returns:
        The folder path.

    Raises:
        OutputFolderError: ``out`` is not a new folder or an earlier catalog.
    """
    manifest = catalog_manifest(catalog, source, extra)
    catalog.manifest = manifest
    return atomic_dir(Path(out), lambda tmp: write_catalog_files(catalog, tmp, manifest), "catalog", overwrite, flag)


def load_catalog(path: str | Path) -> Catalog:
    """Load a catalog folder written by :func:`write_catalog`.

    Raises:
        InputNotFoundError: the folder is missing or lacks one of the catalog files.
        InputError: a file is corrupt or lacks columns (names the file and how to rebuild it).
        CodebookError: the stored codebook is invalid.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputNotFoundError(
            f"{path}: no such catalog folder; build one with `python -m ivr.catalog build` "
            "or use synthetic:people=N,seed=S"
        )
    for name in ("catalog.parquet", "manifest.json", "codebook.json"):
        if not (path / name).exists():
            raise InputNotFoundError(f"{path}: not a catalog folder (missing {name})")
    rebuild = "rebuild the catalog with `python -m ivr.catalog build` (or synth)"
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        codebook_data = json.loads((path / "codebook.json").read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: manifest.json or codebook.json is not valid JSON ({err}); {rebuild}") from None
    if not isinstance(manifest, dict) or not isinstance(codebook_data, dict):
        raise InputError(f"{path}: manifest.json / codebook.json must hold JSON objects; {rebuild}")
    codebook = codebook_from_dict(codebook_data, str(path / "codebook.json"))
    report: dict[str, Any] = {}
    if (path / REPORT_FILE).is_file():
        try:
            report = json.loads((path / REPORT_FILE).read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise InputError(f"{path / REPORT_FILE}: not valid JSON ({err}); {rebuild}") from None
        if not isinstance(report, dict):
            raise InputError(f"{path / REPORT_FILE}: must hold a JSON object; {rebuild}")
    try:
        frame = pd.read_parquet(path / "catalog.parquet")
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise InputError(
            f"{path / 'catalog.parquet'}: cannot be read ({type(err).__name__}: {err}); the file is "
            f"damaged or not a catalog table; {rebuild}"
        ) from None
    qids = codebook.question_ids
    need = [codebook.id_column] + [f"{q}_{f}" for q in qids for f in FORMS] + codebook.demographic_columns
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InputError(f"{path / 'catalog.parquet'}: missing column(s) {missing[:10]}; {rebuild}")
    try:
        return Catalog(
            codebook=codebook,
            person_ids=frame[codebook.id_column].to_numpy(),
            polar=frame[[f"{q}_polar" for q in qids]].to_numpy(np.int8),
            refined=frame[[f"{q}_refined" for q in qids]].to_numpy(np.int8),
            demographics=frame[codebook.demographic_columns].to_numpy(np.int32),
            manifest=manifest,
            report=report,
            folder=path,
        )
    except (ValueError, TypeError) as err:
        raise InputError(
            f"{path / 'catalog.parquet'}: columns hold values that are not answer codes ({err}); {rebuild}"
        ) from None
