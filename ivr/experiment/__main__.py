"""``python -m ivr.experiment NAME --config configs/experiments/NAME.yaml [--quick] [--out DIR]``.

``--quick`` merges the config's ``quick:`` section (a small population / fewer runs that finishes
in minutes on a CPU); ``--set KEY=VALUE`` overrides one setting (YAML value, dotted keys for nested
settings). Running the same command again reuses every finished run in the output folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ivr.experiment import EXPERIMENTS, experiment_class
from ivr.experiment.config import load_config
from ivr.experiment.published import load_published
from ivr.experiment.runner import Outcome, run_experiment


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ivr.experiment",
        description="Run one of the study's analyses (resumable; writes table.csv/json and figure.png into --out).",
    )
    p.add_argument("name", choices=sorted(EXPERIMENTS), help="the experiment")
    p.add_argument("--config", type=Path, default=None,
                   help="YAML settings (default: configs/experiments/NAME.yaml when it exists)")
    p.add_argument("--quick", action="store_true", help="use the config's quick: section (minutes on a CPU)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/experiments/NAME[_quick])")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set catalog=path/to/catalog (repeatable)")
    p.add_argument("--paper", type=Path, default=None, help="results JSON with the published figures")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def main(argv: list[str] | None = None) -> Outcome | None:
    """Parse the command line and run the experiment; returns its outcome (None on a user error)."""
    args = build_parser().parse_args(argv)
    config_path = args.config
    if config_path is None and Path(f"configs/experiments/{args.name}.yaml").is_file():
        config_path = Path(f"configs/experiments/{args.name}.yaml")
    out = args.out or Path("runs/experiments") / (args.name + ("_quick" if args.quick else ""))
    try:
        config = load_config(config_path, quick=args.quick, overrides=args.overrides)
        exp = experiment_class(args.name)(config, out, load_published(args.paper))
        return run_experiment(exp, progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 2)
