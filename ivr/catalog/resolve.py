"""Turn a catalog spec (a folder, or ``synthetic:people=N,seed=S``) into a catalog folder path, and open it
(:func:`open_catalog`, the one way every command loads the catalog of its ``--data.catalog``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.errors import ConfigError, InputNotFoundError

if TYPE_CHECKING:
    from ivr.catalog.store import Catalog

SYNTHETIC_PREFIX = "synthetic:"
CATALOG_FILES = ("catalog.parquet", "manifest.json", "codebook.json")


def default_cache_dir() -> Path:
    """``$IVR_CACHE`` if set, else ``./.ivr_cache``."""
    return Path(os.environ.get("IVR_CACHE", ".ivr_cache"))


def parse_synthetic_spec(spec: str) -> tuple[int, int]:
    """``synthetic:people=N,seed=S`` -> (N, S); ``seed`` defaults to 0.

    Raises:
        ConfigError: naming the spec and the expected form (a ValueError).
    """
    usage = (
        f"catalog spec {spec!r}: expected 'synthetic:people=N,seed=S' (seed optional), "
        "e.g. synthetic:people=93279,seed=0"
    )
    body = spec[len(SYNTHETIC_PREFIX) :]
    values: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("people", "seed") or key.strip() in values:
            raise ConfigError(usage)
        try:
            values[key.strip()] = int(value)
        except ValueError:
            raise ConfigError(f"{usage}; {key.strip()}={value!r} is not an integer") from None
    if "people" not in values or values["people"] <= 0 or values.get("seed", 0) < 0:
        raise ConfigError(usage)
    return values["people"], values.get("seed", 0)


def resolve_catalog(spec: str, cache_dir: str | Path | None = None) -> Path:
    """The catalog folder a spec names, building a synthetic one on first use.

    Args:
        spec: a catalog folder, or ``synthetic:people=N,seed=S`` (built once under
            ``cache_dir/synthetic-pN-sS`` and reused afterwards).
        cache_dir: where synthetic catalogs live (default ``$IVR_CACHE`` or ``./.ivr_cache``).

    Returns:
        Path of a folder holding ``catalog.parquet``, ``manifest.json`` and ``codebook.json``.

    Raises:
        ConfigError: a malformed ``synthetic:`` spec.
        InputNotFoundError: a path that is not a catalog folder.
    """
    spec = str(spec)
    if spec.startswith(SYNTHETIC_PREFIX):
        people, seed = parse_synthetic_spec(spec)
        out = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        out = out / f"synthetic-p{people}-s{seed}"
        if not _is_catalog(out) or _stale(out):
            from ivr.catalog.synth import build_synthetic  # heavy; only when a build is needed

            build_synthetic(out, people, seed, overwrite=True, flag="--data.cache_dir", progress=True)
        return out
    path = Path(spec)
    if _is_catalog(path):
        return path
    if path.is_dir():
        missing = [f for f in CATALOG_FILES if not (path / f).exists()]
        raise InputNotFoundError(
            f"{path}: not a catalog folder (missing {', '.join(missing)}); build one with "
            "`python -m ivr.catalog` or use synthetic:people=N,seed=S"
        )
    raise InputNotFoundError(
        f"catalog {spec!r} does not exist; pass a catalog folder or synthetic:people=N,seed=S "
        "(e.g. synthetic:people=93279,seed=0)"
    )


def open_catalog(spec: str | Path, cache_dir: str | Path | None = None) -> Catalog:
    """Load the catalog a spec names (:func:`resolve_catalog`, then :func:`ivr.catalog.store.load_catalog`).

    The returned catalog's ``folder`` is the folder it was read from (a ``synthetic:`` spec's cached build).

    Raises:
        ConfigError: a malformed ``synthetic:`` spec.
        InputNotFoundError: a path that is not a catalog folder.
        InputError: a damaged catalog file (see :func:`ivr.catalog.store.load_catalog`).
    """
    from ivr.catalog.store import load_catalog

    return load_catalog(resolve_catalog(str(spec), cache_dir))


def _stale(path: Path) -> bool:
    # A cached build from an older generator would silently give other figures: rebuild it.
    from ivr.catalog.synth.population import GENERATOR_VERSION

    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return True
    return manifest.get("generator_version") != GENERATOR_VERSION


def _is_catalog(path: Path) -> bool:
    return path.is_dir() and all((path / f).exists() for f in CATALOG_FILES)
