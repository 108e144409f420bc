"""Experiment configuration: a YAML mapping, its ``quick:`` section and ``--key value`` overrides.

A config file looks like::

    data:                                       # the shared --data.* section (ivr.settings.DataSettings)
      catalog: "synthetic:people=20000,seed=0"  # catalog folder or synthetic spec
      split_size: 800
    forms: [polar, refined]
    quick:                                      # merged over the top level with --quick
      data: {catalog: "synthetic:people=2000,seed=0"}

``--a.b value`` on the command line replaces one (nested) key; the value is read as YAML
(``--forms '[polar]'``). After merging, the settings are checked against the experiment's typed
settings (:func:`validate_config`): an unknown key anywhere is an error with a "did you mean".
Keys of the previous release (``catalog``, ``split_size``, ... at the top level) move into ``data:``
with a deprecation note.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from ivr.errors import ConfigError

QUICK_KEY = "quick"
#: Top-level keys of the previous release -> their place in the shared data: section.
LEGACY_KEYS = {
    "catalog": "catalog",
    "cache_dir": "cache_dir",
    "split_size": "split_size",
    "split_rule": "split_rule",
    "seed": "seed",
    "setups": "setups",
    "limit_people": "limit_eval_people",
}


def migrate(config: dict[str, Any], where: str) -> dict[str, Any]:
    """Move the previous release's top-level keys (``catalog``, ``split_size``, ...) into ``data:``."""
    for old, new in LEGACY_KEYS.items():
        if old in config:
            data = config.setdefault("data", {})
            if not isinstance(data, dict):
                raise ConfigError(f"{where}: 'data:' must be a mapping of the shared data settings")
            data.setdefault(new, config.pop(old))
            print(
                f"[ivr] experiment config: '{old}' ({where}) is deprecated, use 'data.{new}' "
                "(accepted until the next release)",
                file=sys.stderr,
            )
    return config


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
        ConfigError: no ``=``, an empty key or a value that is not YAML.
    """
    key, eq, value = text.partition("=")
    if not eq or not key.strip() or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. --data.catalog path/to/catalog")
    try:
        return key.strip().split("."), yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise ConfigError(f"--{key.strip()} {value!r}: not a YAML value ({' '.join(str(err).split())})") from None


def load_config(path: str | Path | None, quick: bool = False, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read an experiment config.

    Args:
        path: YAML file (None = empty config: every experiment has defaults).
        quick: merge the file's ``quick:`` section over the top level.
        overrides: ``KEY=VALUE`` strings applied last.

    Returns:
        The settings (without the ``quick`` section).

    Raises:
        ConfigError: the file is missing or not a YAML mapping, or a bad override (FileNotFoundError
            and ValueError callers keep working: ConfigError is a ValueError).
    """
    config: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"--config {path}: no such file (configs live in configs/experiments/)")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"--config {path}: not valid YAML ({' '.join(str(err).split())})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"--config {path}: expected a YAML mapping of settings, got {type(loaded).__name__}")
        config = migrate(loaded or {}, str(path))
    quick_section = config.pop(QUICK_KEY, None) or {}
    if not isinstance(quick_section, dict):
        raise ConfigError(f"--config {path}: the '{QUICK_KEY}:' section must be a mapping")
    if quick:
        config = merge(config, migrate(quick_section, f"{path}, quick:"))
    for text in overrides or []:
        keys, value = parse_override(text)
        if keys[0] in LEGACY_KEYS and len(keys) == 1:
            keys = ["data", LEGACY_KEYS[keys[0]]]
            _note_override(text.partition("=")[0], keys)
        node = config
        for key in keys[:-1]:
            if not isinstance(node.get(key, {}), dict):
                raise ConfigError(f"--{'.'.join(keys)}: {key!r} is not a mapping in the config")
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return config


def _note_override(old: str, keys: list[str]) -> None:
    print(
        f"[ivr] experiment: --{old} is deprecated, use --{'.'.join(keys)} (accepted until the next release)",
        file=sys.stderr,
    )


def validate_config(
    config: dict[str, Any], settings: type, prog: str, config_file: str | None = None
) -> dict[str, Any]:
    """The settings checked against a typed settings dataclass, defaults filled in.

    Args:
        config: the merged settings.
        settings: the experiment's settings dataclass (its fields are the allowed keys).
        prog: the command (for messages).
        config_file: the ``--config`` file (named in messages about unknown keys).

    Raises:
        ConfigError: an unknown key (with a "did you mean") or a value of the wrong type.
    """
    from ivr.cli import IvrArgumentParser

    parser = IvrArgumentParser(prog=prog, exit_on_error=True)
    parser.add_class_arguments(settings)
    parser._ivr_config_files = [config_file] if config_file else []
    parsed = parser.parse_object(config)
    return _plain(parsed.as_dict())


def _plain(value: Any) -> Any:
    """jsonargparse's dict (Path objects, nested namespaces) as plain YAML-able data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "__path__"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "as_dict"):
        return _plain(value.as_dict())
    return value
