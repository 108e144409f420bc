"""``python -m ivr.data export|describe --config C.yaml [--data.KEY VALUE ...]``: chat JSONL; the unit table.

``export ... --out train.jsonl`` writes sampled examples as chat-format JSONL. ``describe`` prints the
training units (demonstration form, count, probe form, share, examples per question and per epoch)
and the evaluation convention (``--data.catalog SPEC`` describes the config on another catalog).

``--config`` is an ``ivr.fit`` config (its ``data:`` section is used; the other sections are
accepted) or a YAML of IVRDataModule arguments under ``data:``; every data-module argument is also a
flag (``--data.catalog``, ``--data.split_size`` ..., the same names as on every command). ``--out``
is a new file or an earlier export (a file ivr did not write is never replaced). The export's size is
estimated and printed before writing; above ``--max_size`` (default 2GB) it is refused until the flag
allows it. The records are template-free chat messages, so ``--data.chat_template`` is refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ivr.cli import (
    COMMON_ALIASES,
    IvrArgumentParser,
    accept_fit_config,
    apply_aliases,
    deprecation,
    drop_fit_output,
    entry_point,
    lightning_parser_class,
    run,
)
from ivr.errors import ConfigError

PROG = "python -m ivr.data"


def build_parser() -> Any:
    from jsonargparse import ActionConfigFile

    from ivr.data.datamodule import IVRDataModule
    from ivr.data.export import DEFAULT_MAX_SIZE
    from ivr.settings import Count, Count0

    parser = IvrArgumentParser(prog=PROG, description=__doc__.split("\n")[0], exit_on_error=True)
    sub = parser.add_subcommands(dest="command", required=True)
    exp = lightning_parser_class()(
        prog=f"{PROG} export", exit_on_error=True, description="write sampled examples as chat-format JSONL (messages)"
    )
    exp.add_argument("--config", action=ActionConfigFile, help="an ivr.fit config (its data: section) or data: YAML")
    exp.add_lightning_class_args(IVRDataModule, "data")
    exp.add_argument(
        "--out",
        type=str | None,
        default=None,
        help="output .jsonl (default runs/data_export/<split>.jsonl; written atomically)",
    )
    exp.add_argument("--split", type=str, default="train", help="which examples: train, val or test")
    exp.add_argument(
        "--epoch", type=Count0, default=0, help="training epoch to sample (demonstrations differ per epoch)"
    )
    exp.add_argument("--limit", type=Count | None, default=None, help="at most this many examples")
    exp.add_argument(
        "--max_size",
        type=str,
        default=DEFAULT_MAX_SIZE,
        help="largest export written (e.g. 500MB, 2GB); the estimate is printed before writing",
    )
    exp.add_argument("--layout", type=str, default="choice", help="text layout template name or .jinja path")
    exp.add_argument("--progress", type=bool, default=True, nargs="?", const=True, help="progress bar / lines")
    accept_fit_config(exp)
    sub.add_subcommand("export", exp, help="write sampled examples as chat-format JSONL (messages)")
    des = lightning_parser_class()(
        prog=f"{PROG} describe",
        exit_on_error=True,
        description="print the training units and the evaluation convention of a config",
    )
    des.add_argument("--config", action=ActionConfigFile, help="an ivr.fit config (its data: section) or data: YAML")
    des.add_lightning_class_args(IVRDataModule, "data")
    accept_fit_config(des)
    sub.add_subcommand("describe", des, help="print the training units and the evaluation convention of a config")
    return parser


def _flat_config(argv: list[str]) -> list[str]:
    """A config of the previous release holding IVRDataModule arguments at the top level -> under ``data:``."""
    import yaml

    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg != "--config":
            continue
        try:
            cfg = yaml.safe_load(Path(out[i + 1]).read_text())
        except (OSError, yaml.YAMLError):
            continue  # the parser names the problem
        if isinstance(cfg, dict) and "data" not in cfg and "catalog" in cfg:
            deprecation(PROG, f"a flat data-module config ({out[i + 1]})", "its keys under data:")
            out[i + 1] = yaml.safe_dump({"data": cfg})
        elif isinstance(cfg, dict) and isinstance(cfg.get("data"), dict) and "init_args" in cfg["data"]:
            out[i + 1] = yaml.safe_dump({**cfg, "data": cfg["data"]["init_args"]})  # LightningCLI subclass form
    return out


def looks_like_export(path: Path) -> bool:
    """Whether an existing file is an earlier chat export (its first line a record with messages)."""
    try:
        with path.open(encoding="utf-8") as fh:
            first = json.loads(fh.readline())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(first, dict) and "messages" in first and "person_id" in first


def main(argv: list[str] | None = None) -> int:
    """Export; expected failures raise :class:`ivr.errors.IvrError`."""
    from ivr.data.datamodule import IVRDataModule
    from ivr.data.export import check_chat_template, export_jsonl, parse_size
    from ivr.outputs import check_output_file

    argv = _flat_config(
        drop_fit_output(apply_aliases(list(sys.argv[1:] if argv is None else argv), COMMON_ALIASES, PROG))
    )
    cfg = build_parser().parse_args(argv)
    if cfg.command == "describe":
        from ivr.data.describe import describe_datamodule

        args = cfg.describe
        data = args.data.as_dict() if hasattr(args.data, "as_dict") else dict(args.data)
        source = next((str(c) for c in (args.get("config") or []) if c), "")
        print(describe_datamodule(IVRDataModule(**data), source))
        return 0
    args = cfg.export
    if args.split not in ("train", "val", "test"):
        raise ConfigError(f"--split {args.split!r}: use train, val or test")
    out = Path(args.out or f"runs/data_export/{args.split}.jsonl")
    check_output_file(out, looks_like_export, "a chat JSONL export")
    data = args.data.as_dict() if hasattr(args.data, "as_dict") else dict(args.data)
    from ivr.cli import check_model_path

    check_chat_template(data)  # before the data module loads anything
    parse_size(args.max_size)
    check_model_path(str(data.get("tokenizer", "statement")), "--data.tokenizer", allow=("statement",))
    dm = IVRDataModule(**data)
    n = export_jsonl(
        dm,
        out,
        split=args.split,
        epoch=args.epoch,
        limit=args.limit,
        layout=args.layout,
        progress=args.progress,
        max_size=args.max_size,
    )
    print(f"wrote {n} records to {out}")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract."""
    return run(main, argv)


if __name__ == "__main__":
    entry_point(main)
