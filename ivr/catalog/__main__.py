"""Command line for catalogs: ``python -m ivr.catalog {build,stats,synth} ...``.

Examples::

    python -m ivr.catalog build --survey wvs7 --input WVS_Cross-National_Wave_7_csv_v5_0.csv --out data/wvs7
    python -m ivr.catalog build --codebook my_survey.yaml --input my_survey.csv --out data/mine
    python -m ivr.catalog stats data/wvs7 --published
    python -m ivr.catalog synth --people 2000 --seed 0 --out data/synth
    python -m ivr.catalog protocol data/mine --data.min_valid 8

``build`` and ``synth`` write a new folder or replace an earlier catalog; a folder holding anything
else is refused. Errors print one ``error: ...`` line to stderr and exit with status 2.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ivr.cli import (
    COMMON_ALIASES,
    IvrArgumentParser,
    add_output_arguments,
    add_progress_argument,
    apply_aliases,
    entry_point,
    run,
)
from ivr.cli import make_parser as cli_parser

PROG = "python -m ivr.catalog"


def _build(args: Any) -> None:
    from ivr.catalog.accounting import REPORT_FILE, format_report
    from ivr.catalog.convert import ConversionError, convert_survey, resolve_codebook

    codebook = resolve_codebook(args.survey, args.codebook, args.input)
    title = f"build summary of {args.input} (codebook {codebook.name})"
    try:
        out, catalog = convert_survey(
            args.input, codebook, args.out, progress=args.progress, overwrite=args.overwrite, return_catalog=True
        )
    except ConversionError as err:
        if err.report is not None:  # every code was counted: show where the unlisted ones are
            print(format_report(err.report, title))
        raise
    print(format_report(catalog.report, title))
    print(f"wrote {out} (codebook {codebook.name}; this summary is {out}/{REPORT_FILE})")


def _stats(args: Any) -> None:
    from ivr.catalog.stats import catalog_stats, format_stats, load_published
    from ivr.catalog.store import load_catalog

    # Read the published figures first so a wrong --paper fails before the catalog is loaded.
    published = load_published(args.paper) if args.published else None
    stats = catalog_stats(load_catalog(args.catalog))
    if args.json:
        print(json.dumps({**stats, **({"published": published} if published is not None else {})}, indent=2))
    else:
        print(format_stats(stats, published, title=f"catalog {args.catalog}"))


def _synth(args: Any) -> None:
    # Imported here so build/stats work without the synthetic-population package.
    from ivr.catalog.synth import build_synthetic

    out = build_synthetic(
        args.out, n_people=args.people, seed=args.seed, overwrite=args.overwrite, progress=args.progress
    )
    print(f"wrote {out}")


def _protocol(args: Any) -> None:
    # the protocol is the data layer's (probes, eligibility, demonstrations): imported here, never at module level
    from ivr.protocol.describe import format_protocol, protocol_facts, protocol_warnings
    from ivr.settings import DataSettings

    data = DataSettings.from_value({**(args.data.as_dict() if args.data else {}), "catalog": args.catalog})
    catalog = data.open_catalog()
    protocol = data.protocol(catalog)
    facts = protocol_facts(catalog, protocol)
    warnings = protocol_warnings(facts)
    if args.json:
        print(json.dumps({**facts, "warnings": warnings}, indent=2))
    else:
        print(format_protocol(facts, protocol, f"protocol of {args.catalog}"))
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)


COMMANDS = {"build": _build, "stats": _stats, "synth": _synth, "protocol": _protocol}


def make_parser() -> IvrArgumentParser:
    """The argument parser (subcommands build, stats, synth, protocol)."""
    parser = cli_parser(PROG, "Build and inspect statement catalogs.")
    sub = parser.add_subcommands(dest="command", required=True)

    build = IvrArgumentParser(description="convert a survey file (CSV or Stata .dta) into a catalog folder")
    build.add_argument("--survey", type=str, default="wvs7", help="built-in survey codebook name (default: wvs7)")
    build.add_argument(
        "--codebook",
        type=str | None,
        default=None,
        help="codebook YAML/JSON file or published-metadata folder (overrides --survey)",
    )
    build.add_argument("--input", type=str, required=True, help="the survey file, one row per respondent")
    add_output_arguments(build, None, "catalog folder to write")
    add_progress_argument(build)
    sub.add_subcommand("build", build, help="convert a survey file (CSV or Stata .dta) into a catalog folder")

    stats = IvrArgumentParser(description="print Table 1's rows for a catalog folder")
    stats.add_argument("catalog", type=str, help="catalog folder")
    stats.add_argument("--json", type=bool, default=False, nargs="?", const=True, help="print JSON instead of a table")
    stats.add_argument(
        "--published",
        type=bool,
        default=False,
        nargs="?",
        const=True,
        help="show the published Table 1 figures beside it",
    )
    stats.add_argument(
        "--paper", type=str | None, default=None, help="the paper's results.json (default: the copy shipped with ivr)"
    )
    sub.add_subcommand("stats", stats, help="print Table 1's rows for a catalog folder")

    synth = IvrArgumentParser(description="build a synthetic WVS-shaped catalog")
    synth.add_argument("--people", type=int, required=True, help="number of people")
    synth.add_argument("--seed", type=int, default=0, help="random seed")
    add_output_arguments(synth, None, "catalog folder to write")
    add_progress_argument(synth)
    sub.add_subcommand("synth", synth, help="build a synthetic WVS-shaped catalog")

    from ivr.settings import DataSettings

    proto = IvrArgumentParser(
        description="print the evaluation protocol a catalog gets (setups, probes, eligible "
        "people, demonstrations) and warn when it is degenerate"
    )
    proto.add_argument("catalog", type=str, help="catalog folder or synthetic:people=N,seed=S")
    proto.add_class_arguments(
        DataSettings, "data", skip={"catalog"}, help="protocol overrides, the same --data.* keys as every command"
    )
    proto.add_argument("--json", type=bool, default=False, nargs="?", const=True, help="print JSON instead of text")
    sub.add_subcommand("protocol", proto, help="print the evaluation protocol of a catalog")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and run one subcommand; expected failures raise :class:`ivr.errors.IvrError`."""
    argv = apply_aliases(list(sys.argv[1:] if argv is None else argv), COMMON_ALIASES, PROG)
    cfg = make_parser().parse_args(argv)
    COMMANDS[cfg.command](cfg[cfg.command])
    return 0


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract: the exit status (2 and one ``error:`` line on bad input)."""
    return run(main, argv)


if __name__ == "__main__":
    entry_point(main)
