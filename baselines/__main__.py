"""``python -m baselines``: every Table-3 baseline on a catalog, printed and written to a folder.

Example::

    python -m baselines --catalog catalogs/wvs7 --published --plot --out runs/baselines

writes ``table.csv``, ``table.json`` (rows, paper rows, full metric reports, N sweep, run facts),
``sweep.csv``, ``table.txt`` and, with ``--plot``, ``plots/n_sweep.png`` and per-group charts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ivr.catalog.store import Catalog, atomic_dir, load_catalog
from ivr.data.probes import probe_setups

from baselines.report import format_table, load_published, results_json, sweep_csv, table_csv
from baselines.run import BaselineConfig, check_config, choose_split, run_baselines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m baselines", description=__doc__.split("\n")[0])
    p.add_argument("--catalog", required=True,
                   help="catalog folder, or 'synthetic:people=N,seed=S' (built once and cached)")
    p.add_argument("--out", required=True, type=Path, help="output folder (replaced atomically)")
    p.add_argument("--setups", type=int, nargs="+", default=[0, 1, 2], help="probe setups (default 0 1 2)")
    p.add_argument("--pools", nargs="+", default=["1600", "all"], help="neighbour pools: sizes or 'all'")
    p.add_argument("--max-n", type=int, default=35, help="largest cluster size of the N sweep (default 35)")
    p.add_argument("--n-cluster", type=int, default=24, help="cluster size of the 'top cluster' rows (default 24)")
    p.add_argument("--seed", type=int, default=0, help="split, pool, random-draw and bootstrap seed")
    p.add_argument("--eval-ids", type=Path, default=None, help="file of evaluation person ids (.txt/.jsonl)")
    p.add_argument("--eval-size", type=int, default=800, help="evaluation people when no --eval-ids (800)")
    p.add_argument("--split-rule", choices=["study", "stratified"], default="study")
    p.add_argument("--min-valid", type=int, default=None,
                   help="valid answers an eval person needs (default 200 + probes per setup)")
    p.add_argument("--eval-forms", default="matched", choices=["matched", "crossed", "polar", "refined", "all"],
                   help="Resemble compares people in the demonstration form this gives each probe form "
                        "(matched: polar with polar, refined with refined; all: matched and crossed rows)")
    p.add_argument("--features", default="non_probe", choices=["non_probe", "shown"],
                   help="Resemble similarity over every non-probe question (the study) or only the person's "
                        "shown demonstrations (--demo-count of them, the protocol's draw)")
    p.add_argument("--demo-count", default="200", help="demonstrations per person and setup for --features shown")
    p.add_argument("--dimensions", nargs="+", default=None, help="per-group dimensions (default: all defined)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for intervals (0 = none)")
    p.add_argument("--published", action="store_true", help="show the paper's figures beside ours")
    p.add_argument("--paper", type=Path, default=None,
                   help="results JSON with table3_methods (default: the copy shipped with ivr)")
    p.add_argument("--plot", action="store_true", help="write PNG charts under OUT/plots")
    p.add_argument("--cpu", action="store_true", help="never use a GPU FAISS index")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of the neighbour search (default: the cores available)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def open_catalog(spec: str) -> Catalog:
    """Load a catalog folder, building a ``synthetic:...`` spec first when given one."""
    if spec.startswith("synthetic:"):
        try:
            from ivr.catalog.resolve import resolve_catalog
        except ImportError as err:  # the synthetic generator is optional for this entry point
            raise ValueError(f"--catalog {spec}: synthetic catalogs need ivr.catalog.resolve ({err})") from err
        return load_catalog(resolve_catalog(spec))
    return load_catalog(spec)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        catalog = open_catalog(args.catalog)
        config = BaselineConfig(
            setups=tuple(args.setups), pools=tuple(args.pools), max_n=args.max_n, n_cluster=args.n_cluster,
            seed=args.seed, dimensions=args.dimensions, bootstrap=args.bootstrap,
            use_gpu=False if args.cpu else None, progress=not args.no_progress, threads=args.threads,
            eval_forms=args.eval_forms, features=args.features, demo_count=args.demo_count,
        )
        check_config(catalog, config)
        published = load_published(args.paper) if args.published else None
        setups = probe_setups(catalog.codebook, n_setups=max(config.setups) + 1)
        split = choose_split(catalog, setups, size=args.eval_size, seed=args.seed, rule=args.split_rule,
                             ids_file=args.eval_ids, min_valid=args.min_valid)
        results = run_baselines(catalog, split, config)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    results.info.update(catalog=str(args.catalog), split_rule=split.rule, n_eval_ids=str(args.eval_ids or ""))
    table = results.info["convention"] + "\n\n" + format_table(results, config.pools, published)

    def write(tmp: Path) -> None:
        (tmp / "table.txt").write_text(table + "\n")
        (tmp / "table.csv").write_text(table_csv(results, config.pools, published))
        (tmp / "sweep.csv").write_text(sweep_csv(results))
        data = results_json(results, config.pools, published)
        (tmp / "table.json").write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))
        if args.plot:
            from baselines.plots import write_plots

            write_plots(results, tmp / "plots", published)

    atomic_dir(args.out, write)
    print(table)
    print(f"\nwrote {args.out}/table.csv, table.json, sweep.csv" + (", plots/*.png" if args.plot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
