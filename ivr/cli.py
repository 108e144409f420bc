"""One command-line convention and one error contract for every entry point (see CONTRACTS.md).

Every ``python -m ...`` command of the project

* parses with jsonargparse (LightningCLI for ``ivr.fit``): ``--config FILE``, ``--print_config``,
  ``--section.key value``, ``true`` / ``false`` booleans (a bare boolean flag means true);
* runs through :func:`run`: an :class:`ivr.errors.IvrError` (bad file, flag, config key, checkpoint,
  output folder ...) becomes one ``error: ...`` line on stderr and exit status 2, without a traceback;
  ``--debug`` or ``IVR_DEBUG=1`` shows the traceback; any other exception is a bug and keeps it;
* reports unknown flags and config keys as errors with a "did you mean";
* accepts the spellings of the previous release (:class:`Alias`) with a deprecation message.

:func:`add_output_arguments` and :func:`add_report_arguments` give the same flag the same name and
help everywhere (``--out``, ``--overwrite``, ``--bootstrap``, ``--published``, ``--paper``,
``--progress``); the shared ``--data.*`` group is :class:`ivr.settings.DataSettings`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jsonargparse import ArgumentParser

from ivr.errors import ConfigError, did_you_mean, expected_error

DEBUG_FLAG = "--debug"
DEBUG_ENV = "IVR_DEBUG"
RUNS_ROOT = "runs"  # the one default output root of every command


_debug_run = False  # set while run() executes a command given --debug


def debug_requested(argv: Sequence[str] | None = None) -> bool:
    """Whether the user asked for tracebacks (``--debug`` or ``IVR_DEBUG=1``)."""
    return _debug_run or DEBUG_FLAG in (argv or []) or os.environ.get(DEBUG_ENV, "") not in ("", "0", "false")


def one_line(text: str) -> str:
    """A message as one line (newlines and runs of spaces collapsed)."""
    return " ".join(str(text).split())


def run(main: Callable[[list[str]], Any], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)`` under the error contract and return the process exit status.

    Args:
        main: the entry point's ``main``; it receives the arguments without ``--debug``.
        argv: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        0 on success, 2 for an expected failure (after printing one ``error:`` line). An integer
        returned by ``main`` is passed through. Unexpected exceptions propagate with their traceback.
    """
    global _debug_run
    args = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(args)
    args = [a for a in args if a != DEBUG_FLAG]
    previous, _debug_run = _debug_run, debug  # the parsers see it (not the environment: no leak)
    try:
        result = main(args)
    except Exception as err:  # noqa: BLE001 - sorted into expected (one line) and unexpected (re-raised)
        known = expected_error(err)
        if known is None or debug:
            raise
        print(f"error: {one_line(str(known))}", file=sys.stderr)
        return 2
    finally:
        _debug_run = previous
    close_process_group()
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def close_process_group() -> None:
    """Destroy this process's default process group (torchrun or Lightning launch), if it has one.

    Called after a command succeeded, while the interpreter is still whole. A rank that exits with the
    group alive leaves gloo's worker threads to be torn down during interpreter finalisation, which
    now and then aborts the process ("terminate called without an active exception", SIGABRT); the
    launcher then kills the other ranks and a finished run reports failure. After a failure the group
    is left alone: destroying it while a peer is still inside a collective can hang.
    """
    if "torch.distributed" not in sys.modules:  # a command that never touched torch.distributed
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def entry_point(main: Callable[[list[str]], Any]) -> None:
    """``sys.exit(run(main))``: what ``if __name__ == "__main__":`` of every command calls."""
    try:
        code = run(main)
    except BrokenPipeError:  # the reader went away (``| head``): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


# --- deprecated spellings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Alias:
    """An old spelling still accepted for one release.

    Attributes:
        old: the old flag, e.g. ``--eval-size`` or ``--no-baselines``.
        new: what it is now, e.g. ``--data.split_size``.
        value: for an old flag that took no value, the value it meant (``"false"`` for ``--no-X``).
    """

    old: str
    new: str
    value: str | None = None


_warned: set[tuple[str, str]] = set()


def deprecation(prog: str, old: str, new: str) -> None:
    """Print the one-line deprecation note for an old spelling (once per process)."""
    if (prog, old) not in _warned:
        _warned.add((prog, old))
        print(
            f"[ivr] {prog}: {old} is deprecated, use {new} (the old spelling is accepted until the next release)",
            file=sys.stderr,
        )


def apply_aliases(argv: Sequence[str], aliases: Sequence[Alias], prog: str) -> list[str]:
    """Rewrite old spellings into the current ones, printing a deprecation note for each.

    ``--set KEY=VALUE`` (an :class:`Alias` with ``old="--set"``) becomes ``--KEY VALUE``.
    """
    table = {a.old: a for a in aliases}
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        alias = table.get(name) if name.startswith("--") else None
        if alias is None:
            out.append(arg)
            i += 1
            continue
        if alias.old == "--set":
            text = inline if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            i += 1 if eq else 2
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--set {text!r}: expected KEY=VALUE; write it as --KEY VALUE")
            deprecation(prog, "--set KEY=VALUE", "--KEY VALUE")
            out += [f"--{key.strip()}", value]
            continue
        deprecation(prog, alias.old, alias.new + (f" {alias.value}" if alias.value is not None else ""))
        if alias.value is not None:
            out += [alias.new, alias.value]
            i += 1
        elif eq:
            out.append(f"{alias.new}={inline}")
            i += 1
        else:
            out.append(alias.new)
            i += 1
    return out


_config_names: dict[str, str] = {}  # migrated config text -> the file it came from (for messages)


def _edit_configs(argv: Sequence[str], edit: Callable[[dict, str], bool], strict: bool) -> list[str]:
    """Hand every ``--config`` file of ``argv`` (a path, or YAML text an earlier edit produced) as a mapping to
    ``edit(data, path) -> changed``; a changed file goes to the parser as YAML text.

    Raises:
        ConfigError: with ``strict``, a file that is missing or not YAML (else the parser names it).
    """
    import yaml

    out = list(argv)
    for i, arg in enumerate(out):
        name, eq, inline = arg.partition("=")
        if name not in ("--config", "-c") or (not eq and i + 1 >= len(out)):
            continue
        value = inline if eq else out[i + 1]
        path = _config_names.get(value, value)
        try:
            if value in _config_names:
                data = yaml.safe_load(value)
            else:
                with open(value, encoding="utf-8") as fh:
                    data = yaml.safe_load(fh)
        except FileNotFoundError:
            if strict:
                raise ConfigError(f"--config {path}: no such file") from None
            continue
        except (OSError, yaml.YAMLError) as err:
            if strict:
                raise ConfigError(f"--config {path}: cannot be read as YAML ({one_line(str(err))})") from None
            continue
        if not isinstance(data, dict) or not edit(data, path):
            continue  # the parser reports a file that is not a mapping
        text = yaml.safe_dump(data, sort_keys=False)
        _config_names[text] = path
        if eq:
            out[i] = f"{name}={text}"
        else:
            out[i + 1] = text
    return out


def migrate_config(argv: Sequence[str], renames: dict[str, str], prog: str) -> list[str]:
    """Rename the old keys of ``--config`` files (``{"catalog": "data.catalog", ...}``, dotted paths).

    A file using an old key is read, its keys moved to their new place (with a deprecation note
    each) and handed to the parser as YAML text; files without old keys are passed on unchanged.

    Raises:
        ConfigError: the file is missing or not a YAML mapping.
    """

    def rename(data: dict, path: str) -> bool:
        changed = False
        for old, new in renames.items():
            node, keys = data, old.split(".")
            for key in keys[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if not isinstance(node, dict) or keys[-1] not in node:
                continue
            value = node.pop(keys[-1])
            target, new_keys = data, new.split(".")
            for key in new_keys[:-1]:
                target = target.setdefault(key, {})
            target.setdefault(new_keys[-1], value)
            deprecation(prog, f"config key '{old}' ({path})", f"'{new}'")
            changed = True
        return changed

    return _edit_configs(argv, rename, strict=True)


#: Top-level keys that make a YAML file an ``ivr.fit`` config (LightningCLI's sections and fit's own keys).
FIT_CONFIG_KEYS = ("trainer", "model", "checkpoint_dir")


def drop_fit_output(argv: Sequence[str]) -> list[str]:
    """Leave the ``out:`` key of ``ivr.fit`` configs given with ``--config`` out of what the parser reads.

    A fit config's ``out`` is the fit's evaluation folder, never the output of another command reading the
    same file (``ivr.evaluate``, ``ivr.data export`` / ``describe``): those write to their own ``--out``.
    Files that are not fit configs, and fit configs without ``out``, are passed on unchanged.
    """

    def drop(data: dict, path: str) -> bool:
        if "out" not in data or not any(k in data for k in FIT_CONFIG_KEYS):
            return False
        del data["out"]
        return True

    return _edit_configs(argv, drop, strict=False)


# --- the parser ------------------------------------------------------------------------------------


def _option_names(parser: Any) -> list[str]:
    names = []
    for action in getattr(parser, "_actions", []):
        names += [s for s in action.option_strings if s.startswith("--")]
    return names


_TYPE_RE = re.compile(r"<class '([\w.]+)'>")


_RESTRICTION_RE = re.compile(r"restriction v(>=|>|<=|<)(-?\d+)")
_BOUND = {">": (">=", 1), ">=": (">=", 0), "<": ("<=", -1), "<=": ("<=", 0)}


def _range_text(text: str) -> str:
    """jsonargparse's restricted-number error (``ivr.settings.Count``...) as ``--flag VALUE: use ...``."""
    found = _RESTRICTION_RE.search(text)
    flag = re.match(r"(--[\w.]+):", text)
    if not found or not flag:
        return text
    op, shift = _BOUND[found.group(1)]
    bound = int(found.group(2)) + shift
    value = re.search(r"Given value: (.+)$", text) or re.search(r"Not of type \w+: (.+?) does not conform", text)
    optional = "NoneType" in text
    given = f" {value.group(1).strip()[:40]}" if value else ""
    return f"{flag.group(1)}{given}: out of range, use a whole number {op} {bound}{' (or null)' if optional else ''}"


def usage_message(parser: Any, message: str) -> str:
    """jsonargparse's error text as one line naming the flag, with a "did you mean" where one fits."""
    prog = (getattr(parser, "prog", "") or "").replace(" [options]", "")
    text = one_line(_TYPE_RE.sub(r"\1", message))
    text = re.sub(r'Parser key "([^"]+)":', r"--\1:", text)
    text = _range_text(text)
    options = _option_names(parser)
    hint = ""
    unknown = re.search(r"unrecognized arguments: (\S+)", text)
    if unknown:
        hint = did_you_mean(unknown.group(1).split("=")[0], [o for o in options if not o.endswith("+")])
    ambiguous = re.search(r"ambiguous option: (\S+) could match (\S+?),", text)
    if ambiguous:
        hint = f"; did you mean {ambiguous.group(2)}?"
    group = re.search(r"Group '([^']+)' does not accept option '([^']+)'", text)
    if group:
        section, key = group.groups()
        text = text.replace(group.group(0), f"unknown key '{key}' in section '{section}' (--{section}.{key})")
        hint = did_you_mean(f"--{section}.{key}", [o for o in options if o.startswith(f"--{section}.")])
        moved = [o for o in options if o.rsplit(".", 1)[-1] == key]  # the same key in another section
        hint = hint or (f"; did you mean {moved[0]}?" if moved else "")
    top = re.search(r"Option '([^']+)' is not accepted", text)
    if top:
        key = top.group(1)
        text = text.replace(top.group(0), f"unknown key '{key}' (--{key})")
        hint = did_you_mean(f"--{key}", options)
    config = getattr(parser, "_ivr_config_files", [])
    where = f" (config: {', '.join(config)})" if config and ("unknown key" in text or "--" not in text) else ""
    return f"{prog}: {text}{where}{hint}; see {prog} --help"


class UsageErrorMixin:
    """Turns jsonargparse's usage errors into :class:`ConfigError` (one line, did-you-mean)."""

    def parse_args(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        self._ivr_config_files = [
            _config_names.get(argv[i + 1], argv[i + 1]) for i, a in enumerate(argv[:-1]) if a in ("--config", "-c")
        ]
        return super().parse_args(argv, *rest, **kwargs)  # type: ignore[misc]

    def error(self, message: str, ex: Exception | None = None) -> Any:
        # nested parsers (exit_on_error=False) must keep raising jsonargparse's own error
        if not getattr(self, "exit_on_error", True) or debug_requested():
            return super().error(message, ex)  # type: ignore[misc]
        known = expected_error(ex) if ex is not None else None
        if known is not None:  # e.g. an IvrError raised while a config value was being built
            raise known
        raise ConfigError(usage_message(self, message)) from ex


class IvrArgumentParser(UsageErrorMixin, ArgumentParser):
    """jsonargparse's ``ArgumentParser`` under the project's error contract (no abbreviated flags:
    ``--data.split_s`` is an unknown flag, not silently ``--data.split_size``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


_LIGHTNING_PARSER: type | None = None


def lightning_parser_class() -> type:
    """LightningCLI's ``LightningArgumentParser`` under the error contract (imported on first use)."""
    global _LIGHTNING_PARSER
    if _LIGHTNING_PARSER is None:
        from lightning.pytorch.cli import LightningArgumentParser

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("allow_abbrev", False)
            LightningArgumentParser.__init__(self, *args, **kwargs)

        _LIGHTNING_PARSER = type(
            "IvrLightningParser", (UsageErrorMixin, LightningArgumentParser), {"__init__": __init__}
        )
    return _LIGHTNING_PARSER


def __getattr__(name: str) -> Any:
    if name == "IvrLightningParser":
        return lightning_parser_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def looks_like_path(spec: str) -> bool:
    """Whether a model / tokenizer spec is a local path rather than a hub id (``org/name``)."""
    return (
        spec.startswith(("/", ".", "~"))
        or "\\" in spec
        or spec.count("/") > 1
        or os.path.exists(spec)
        or spec.endswith((".json", ".ckpt", ".safetensors"))
    )


def check_model_path(spec: str, flag: str, allow: Sequence[str] = ()) -> str:
    """Refuse a model or tokenizer spec that names a local folder which is missing or not a model folder.

    A hub id (``org/name``) passes (it is resolved offline by transformers later).

    Raises:
        ConfigError: naming the flag, the path and what it should be.
    """
    if spec in allow:
        return spec
    from pathlib import Path

    path = Path(spec).expanduser()
    if path.exists():
        if path.is_dir() and not any(
            (path / f).exists() for f in ("config.json", "tokenizer.json", "tokenizer_config.json")
        ):
            raise ConfigError(
                f"{flag} {spec}: the folder holds no config.json or tokenizer files, so it is not a "
                "model / tokenizer folder"
            )
        return spec
    if looks_like_path(spec) or not spec.strip():
        hint = f"; or one of {list(allow)}" if allow else ""
        raise ConfigError(
            f"{flag} {spec!r}: no such folder; give an existing model / tokenizer folder or a hub id (org/name){hint}"
        )
    return spec


def make_parser(prog: str, description: str | None = None) -> IvrArgumentParser:
    """A parser with ``--config`` (and so ``--print_config``) for a command."""
    from jsonargparse import ActionConfigFile

    parser = IvrArgumentParser(prog=prog, description=description, exit_on_error=True)
    parser.add_argument("--config", action=ActionConfigFile, help="YAML file of settings (every flag is a key)")
    return parser


# --- shared flags ----------------------------------------------------------------------------------


def add_output_arguments(parser: Any, default: str | None, what: str = "output folder") -> None:
    """``--out`` and ``--overwrite``, the same on every command that writes a folder.

    Args:
        parser: the command's parser.
        default: default output path (under ``runs/``), or None to make ``--out`` required.
        what: what the path is, for ``--help``.
    """
    parser.add_argument(
        "--out",
        type=str,
        required=default is None,
        default=default,
        help=f"{what} (a new folder, or one this command wrote before)",
    )
    parser.add_argument(
        "--overwrite",
        type=bool,
        default=False,
        nargs="?",
        const=True,
        help="replace an output that another ivr command wrote (never a folder with files ivr did not write)",
    )


def add_report_arguments(parser: Any, bootstrap: int = 1000) -> None:
    """``--bootstrap``, ``--published``, ``--paper`` and ``--progress``, the same everywhere."""
    from ivr.settings import Count0

    parser.add_argument(
        "--bootstrap",
        type=Count0,
        default=bootstrap,
        help="bootstrap resamples of people for the 95%% intervals (0 = none)",
    )
    parser.add_argument(
        "--published", type=bool, default=False, nargs="?", const=True, help="print the paper's figures beside ours"
    )
    parser.add_argument(
        "--paper", type=str | None, default=None, help="the paper's results.json (default: the copy shipped with ivr)"
    )
    add_progress_argument(parser)


def add_progress_argument(parser: Any) -> None:
    parser.add_argument(
        "--progress",
        type=bool,
        default=True,
        nargs="?",
        const=True,
        help="progress bars on a terminal, a plain progress line otherwise (false = none)",
    )


#: Top-level keys of an ``ivr.fit`` config that other commands reading it accept but do not use.
FIT_ONLY: dict[str, Any] = {
    "seed_everything": int | bool | None,
    "checkpoint_dir": str | None,
    "save_every_n_steps": int | None,
    "evaluate": bool | None,
    "eval_ckpt": str | None,
    "report_dir": str | None,
    "ckpt_path": str | None,
    "baselines": bool | None,
    "bootstrap": int | None,
    "imputers": bool | None,
}


def accept_fit_config(parser: Any, sections: Sequence[str] = ("model", "trainer"), skip: Sequence[str] = ()) -> None:
    """Let ``--config`` be an ``ivr.fit`` config: its fit-only keys (and untyped ``sections``) are accepted."""
    for key in sections:
        parser.add_argument(
            f"--{key}",
            type=dict[str, Any] | None,
            default=None,
            help=f"(the fit config's {key}: section; not used here)",
        )
    for key, typ in FIT_ONLY.items():
        if key not in skip:
            parser.add_argument(f"--{key}", type=typ, default=None, help="(an ivr.fit setting; not used here)")


#: The old spellings of the shared flags (every command accepts them for one release).
COMMON_ALIASES = (
    Alias("--no-progress", "--progress", "false"),
    Alias("--quiet", "--progress", "false"),
)


# --- quieting third-party noise ----------------------------------------------------------------------


class _DropMessages(logging.Filter):
    def __init__(self, needles: tuple[str, ...]) -> None:
        super().__init__()
        self.needles = needles

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(n in text for n in self.needles)


def quiet_noise() -> None:
    """Silence what users need not read: Lightning's litlogger advert and known deprecation spam."""
    drop = _DropMessages(("litlogger", "LitLogger"))
    for name in (
        "lightning.pytorch",
        "lightning.fabric",
        "lightning.pytorch.utilities.rank_zero",
        "lightning.fabric.utilities.rank_zero",
        "lightning_utilities.core.rank_zero",
    ):
        logging.getLogger(name).addFilter(drop)
    for handler in logging.getLogger("lightning.pytorch").handlers:
        handler.addFilter(drop)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*deprecated.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers which may be a bottleneck.*")
    warnings.filterwarnings("ignore", message=r".*LightningCLI's args parameter is intended to run from within.*")
    # ivr owns its checkpoint folders (marker, run.json, lock): an earlier run there is checked by ivr itself
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=r".*The number of training batches .* is smaller than the logging.*")
