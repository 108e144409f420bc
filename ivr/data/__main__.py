"""``python -m ivr.data export|describe --config data.yaml``: sampled examples as chat JSONL; the unit table.

``export --config data.yaml --out train.jsonl``: sampled examples as chat-format JSONL.
``describe --config configs/X.yaml [--catalog SPEC]``: the training units (demonstration form, count,
probe form, share, examples per question and per epoch) and the evaluation convention.
"""

from __future__ import annotations

import argparse
import sys

from ivr.data.datamodule import IVRDataModule
from ivr.data.describe import describe
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
    des = sub.add_parser("describe", help="print the training units and the evaluation convention of a config")
    des.add_argument("--config", required=True, help="YAML of IVRDataModule arguments (flat, data:, or LightningCLI)")
    des.add_argument("--catalog", default=None, help="another catalog folder or synthetic:people=N,seed=S")
    args = parser.parse_args(argv)
    if args.command == "describe":
        print(describe(args.config, args.catalog))
        return 0
    dm = IVRDataModule(**load_datamodule_config(args.config))
    n = export_jsonl(dm, args.out, split=args.split, epoch=args.epoch, limit=args.limit, layout=args.layout)
    print(f"wrote {n} records to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
