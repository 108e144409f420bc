"""``python -m ivr.data export --config data.yaml --out train.jsonl``: sampled examples as chat JSONL."""

from __future__ import annotations

import argparse
import sys

from ivr.data.datamodule import IVRDataModule
from ivr.data.export import export_jsonl, load_datamodule_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write sampled examples as chat-format JSONL (messages)")
    exp.add_argument("--config", required=True, help="YAML of IVRDataModule arguments (flat, data:, or LightningCLI)")
    exp.add_argument("--out", required=True, help="output .jsonl (written atomically)")
    exp.add_argument("--split", default="train", choices=("train", "val", "test"), help="which examples")
    exp.add_argument("--epoch", type=int, default=0, help="training epoch to sample (demonstrations differ per epoch)")
    exp.add_argument("--limit", type=int, default=None, help="at most this many examples")
    exp.add_argument("--layout", default="choice", help="text layout template name or .jinja path")
    args = parser.parse_args(argv)
    dm = IVRDataModule(**load_datamodule_config(args.config))
    n = export_jsonl(dm, args.out, split=args.split, epoch=args.epoch, limit=args.limit, layout=args.layout)
    print(f"wrote {n} records to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
