"""Experiment configuration: a YAML mapping, its ``quick:`` section and ``--set key=value`` overrides.

A config file looks like::

    catalog: "synthetic:people=20000,seed=0"   # catalog folder or synthetic spec
    forms: [polar, refined]
    quick:                                      # merged over the top level with --quick
      catalog: "synthetic:people=2000,seed=0"

``--set a.b=value`` replaces one (nested) key; the value is read as YAML (``--set forms=[polar]``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ivr.catalog.store import Catalog, load_catalog

QUICK_KEY = "quick"


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge: mappings merge key by key, anything else in ``over`` replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=1"`` -> (["a", "b"], 1).

    Raises:
        ValueError: no ``=`` or an empty key.
    """
    key, eq, value = text.partition("=")
    if not eq or not key.strip() or any(not part for part in key.split(".")):
        raise ValueError(f"--set {text!r}: expected KEY=VALUE, e.g. --set catalog=path/to/catalog")
    return key.strip().split("."), yaml.safe_load(value)


def load_config(path: str | Path | None, quick: bool = False, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read an experiment config.

    Args:
        path: YAML file (None = empty config: every experiment has defaults).
        quick: merge the file's ``quick:`` section over the top level.
        overrides: ``KEY=VALUE`` strings applied last.

    Returns:
        The settings (without the ``quick`` section).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a YAML mapping, or a bad override.
    """
    config: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"--config {path}: no such file (configs live in configs/experiments/)")
        loaded = yaml.safe_load(path.read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"--config {path}: expected a YAML mapping of settings, got {type(loaded).__name__}")
        config = loaded or {}
    quick_section = config.pop(QUICK_KEY, None) or {}
    if not isinstance(quick_section, dict):
        raise ValueError(f"--config {path}: the '{QUICK_KEY}:' section must be a mapping")
    if quick:
        config = merge(config, quick_section)
    for text in overrides or []:
        keys, value = parse_override(text)
        node = config
        for key in keys[:-1]:
            if not isinstance(node.get(key, {}), dict):
                raise ValueError(f"--set {text!r}: {key!r} is not a mapping in the config")
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return config


def catalog_folder(spec: str, cache_dir: str | Path | None = None) -> Path:
    """The catalog folder for a config's ``catalog:`` value.

    Args:
        spec: a catalog folder, or ``synthetic:people=N,seed=S`` (built once and cached).
        cache_dir: where synthetic catalogs are built (default ``$IVR_CACHE`` or ``./.ivr_cache``).

    Raises:
        FileNotFoundError: a folder that does not exist.
    """
    if str(spec).startswith("synthetic:"):
        from ivr.catalog.resolve import resolve_catalog

        return Path(resolve_catalog(str(spec), cache_dir=cache_dir))
    folder = Path(spec)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"catalog: {spec}: no such folder; give a catalog folder (python -m ivr.catalog ...) or "
            "'synthetic:people=N,seed=S'"
        )
    return folder


def open_catalog(spec: str, cache_dir: str | Path | None = None) -> tuple[Catalog, Path]:
    """Load the catalog of a config (see :func:`catalog_folder`); returns it and its folder."""
    folder = catalog_folder(spec, cache_dir)
    return load_catalog(folder), folder
