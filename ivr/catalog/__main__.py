"""Command line for catalogs: ``python -m ivr.catalog {build,stats,synth} ...``.

Examples::

    python -m ivr.catalog build --survey wvs7 --input WVS_Cross-National_Wave_7_csv_v5_0.csv --out data/wvs7
    python -m ivr.catalog build --codebook my_survey.yaml --input my_survey.csv --out data/mine
    python -m ivr.catalog stats data/wvs7 --published
    python -m ivr.catalog synth --people 2000 --seed 0 --out data/synth

Errors print one ``error: ...`` line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ivr.catalog.codebook import CodebookError


def _build(args: argparse.Namespace) -> None:
    from ivr.catalog.convert import convert_survey, resolve_codebook

    codebook = resolve_codebook(args.survey, args.codebook, args.input)
    out = convert_survey(args.input, codebook, args.out, progress=not args.quiet)
    print(f"wrote {out} (codebook {codebook.name})")


def _stats(args: argparse.Namespace) -> None:
    from ivr.catalog.stats import catalog_stats, format_stats, load_published
    from ivr.catalog.store import load_catalog

    # Read the published figures first so a wrong --paper fails before the catalog is loaded.
    published = load_published(args.paper) if args.published else None
    stats = catalog_stats(load_catalog(args.catalog))
    if args.json:
        print(json.dumps({**stats, **({"published": published} if published is not None else {})}, indent=2))
    else:
        print(format_stats(stats, published, title=f"catalog {args.catalog}"))


def _synth(args: argparse.Namespace) -> None:
    # Imported here so build/stats work without the synthetic-population package.
    from ivr.catalog.synth import build_synthetic

    out = build_synthetic(args.out, n_people=args.people, seed=args.seed)
    print(f"wrote {out}")


def make_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands build, stats, synth)."""
    parser = argparse.ArgumentParser(prog="python -m ivr.catalog", description="Build and inspect statement catalogs.")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="convert a survey file (CSV or Stata .dta) into a catalog folder")
    build.add_argument("--survey", default="wvs7", help="built-in survey codebook name (default: wvs7)")
    build.add_argument("--codebook", default=None,
                       help="codebook YAML/JSON file or published-metadata folder (overrides --survey)")
    build.add_argument("--input", required=True, type=Path, help="the survey file, one row per respondent")
    build.add_argument("--out", required=True, type=Path, help="catalog folder to write")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(run=_build)

    stats = sub.add_parser("stats", help="print Table 1's rows for a catalog folder")
    stats.add_argument("catalog", type=Path, help="catalog folder")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument("--published", action="store_true", help="show the published Table 1 figures beside it")
    stats.add_argument("--paper", type=Path, default=None,
                       help="the paper's results.json (default: the copy shipped with ivr)")
    stats.set_defaults(run=_stats)

    synth = sub.add_parser("synth", help="build a synthetic WVS-shaped catalog")
    synth.add_argument("--people", type=int, required=True, help="number of people")
    synth.add_argument("--seed", type=int, default=0, help="random seed")
    synth.add_argument("--out", required=True, type=Path, help="catalog folder to write")
    synth.set_defaults(run=_synth)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 on any input error)."""
    args = make_parser().parse_args(argv)
    try:
        args.run(args)
    except (CodebookError, ValueError, FileNotFoundError, OSError, ImportError, KeyError) as err:
        message = " ".join(line.strip() for line in str(err).splitlines())
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
