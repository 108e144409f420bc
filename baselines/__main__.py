"""``python -m baselines``: every Table-3 baseline on a catalog, printed and written to a folder.

Example::

    python -m baselines --data.catalog catalogs/wvs7 --published --plot --out runs/baselines

writes ``table.csv``, ``table.json`` (rows, paper rows, full metric reports, N sweep, run facts),
``sweep.csv``, ``table.txt`` and, with ``--plot``, ``plots/n_sweep.png`` and per-group charts. The
evaluation people come from the shared ``--data.*`` settings (:class:`ivr.settings.DataSettings`).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ivr.cli import (
    COMMON_ALIASES,
    Alias,
    add_output_arguments,
    add_report_arguments,
    apply_aliases,
    entry_point,
    make_parser,
    run,
)
from ivr.outputs import write_output
from ivr.settings import DataSettings

PROG = "python -m baselines"
DEFAULT_OUT = "runs/baselines"

#: Spellings of the previous release, accepted with a deprecation note.
ALIASES = (
    *COMMON_ALIASES,
    Alias("--catalog", "--data.catalog"),
    Alias("--eval-size", "--data.split_size"),
    Alias("--eval-ids", "--data.split_ids_file"),
    Alias("--split-rule", "--data.split_rule"),
    Alias("--min-valid", "--data.min_valid"),
    Alias("--seed", "--data.seed"),
    Alias("--max-n", "--max_n"),
    Alias("--n-cluster", "--n_cluster"),
    Alias("--cpu", "--use_gpu", "false"),
)
#: Old space-separated list flags (``--pools 1600 all``): their values become one YAML list.
LIST_FLAGS = {"--setups": "--data.setups", "--pools": "--pools", "--dimensions": "--dimensions"}


def list_values(argv: list[str]) -> list[str]:
    """``--pools 1600 all`` (old) -> ``--pools [1600, all]``, with a deprecation note."""
    import yaml

    from ivr.cli import deprecation

    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in LIST_FLAGS:
            j = i + 1
            while j < len(argv) and not argv[j].startswith("--"):
                j += 1
            values = argv[i + 1 : j]
            new = LIST_FLAGS[arg]
            if len(values) == 1 and values[0].lstrip().startswith("["):
                out += [new, values[0]]  # already a list
            else:
                items = [yaml.safe_load(v) for v in values]
                text = json.dumps(items, ensure_ascii=False)
                deprecation(PROG, f"{arg} A B ...", f"{new} '[A, B, ...]'")
                out += [new, text]
            i = j
            continue
        out.append(arg)
        i += 1
    return out


def build_parser() -> Any:
    p = make_parser(PROG, __doc__.split("\n")[0])
    p.add_class_arguments(DataSettings, "data", help="the catalog and the evaluation people (same keys everywhere)")
    p.add_argument(
        "--pools",
        type=list[int | str] | None,
        default=None,
        help="neighbour pools: sizes or 'all' (default [1600, all]; 1600 is left out when the survey has "
        "no more training people than that)",
    )
    p.add_argument("--max_n", type=int, default=35, help="largest cluster size of the N sweep")
    p.add_argument("--n_cluster", type=int, default=24, help="cluster size of the 'top cluster' rows")
    p.add_argument(
        "--dimensions",
        type=list[str] | None,
        default=None,
        help="per-group dimensions (default: all the codebook defines)",
    )
    p.add_argument("--plot", type=bool, default=False, nargs="?", const=True, help="write PNG charts under OUT/plots")
    p.add_argument(
        "--eval_forms",
        type=str,
        default="matched",
        help="Resemble compares people in the demonstration form this gives each probe form: matched "
        "(polar with polar, refined with refined), crossed, polar, refined, or all (matched and "
        "crossed rows)",
    )
    p.add_argument(
        "--features",
        type=str,
        default="non_probe",
        help="Resemble similarity over every non-probe question (non_probe, the study) or only the "
        "person's shown demonstrations (shown: --demo_count of them, the protocol's draw)",
    )
    p.add_argument(
        "--demo_count",
        type=str | None,
        default=None,
        help="demonstrations per person and setup for --features shown (default: --data.eval_demo_count, "
        "the survey protocol's)",
    )
    p.add_argument("--use_gpu", type=bool | None, default=None, help="GPU FAISS index (null = when available)")
    p.add_argument(
        "--threads",
        type=int | None,
        default=None,
        help="CPU threads of the neighbour search (default: the cores available)",
    )
    p.add_argument(
        "--latent_classes",
        type=int,
        default=0,
        help="add a latent class row: a mixture of this many answer profiles fitted by EM to the training "
        "pool, predicting from --demo_count shown demonstrations (0 = none; 512: about 4 CPU-minutes "
        "on 93K people)",
    )
    p.add_argument(
        "--people",
        type=str,
        default="evaluation",
        help="who is scored: evaluation (the split's test and validation halves, the study's Table 3) or "
        "test (the test half: the people ivr.fit and ivr.evaluate score, so the figures match theirs)",
    )
    p.add_argument(
        "--imputers",
        type=bool,
        default=False,
        nargs="?",
        const=True,
        help="add the classical imputers' rows (gradient-boosted trees per question, latent traits; a few CPU-minutes)",
    )
    add_report_arguments(p, bootstrap=1000)
    add_output_arguments(p, DEFAULT_OUT)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the baselines; expected failures raise :class:`ivr.errors.IvrError`."""
    from baselines.report import format_table, load_published, results_json, sweep_csv, table_csv
    from baselines.run import DEFAULT_POOLS, BaselineConfig, check_config, fit_pools, run_baselines
    from ivr.outputs import check_output

    argv = list_values(apply_aliases(list(sys.argv[1:] if argv is None else argv), ALIASES, PROG))
    cfg = build_parser().parse_args(argv)
    data = DataSettings.from_value(cfg.data)
    from ivr.errors import ConfigError

    if cfg.bootstrap < 0:
        raise ConfigError(f"--bootstrap {cfg.bootstrap}: give a number of resamples >= 0 (0 = no intervals)")
    if data.limit_eval_people is not None and data.limit_eval_people < 1:
        raise ConfigError(
            f"--data.limit_eval_people {data.limit_eval_people}: give a number of people >= 1, or null for all"
        )
    check_output(cfg.out, "baselines", cfg.overwrite)  # refuse a wrong --out before any work
    catalog = data.open_catalog()
    setups = data.chosen_setups(catalog)
    config = BaselineConfig(
        setups=tuple(setups),
        pools=tuple(str(p) for p in (cfg.pools or DEFAULT_POOLS)),
        max_n=cfg.max_n,
        n_cluster=cfg.n_cluster,
        seed=data.seed,
        dimensions=cfg.dimensions,
        bootstrap=cfg.bootstrap,
        use_gpu=cfg.use_gpu,
        progress=cfg.progress,
        threads=cfg.threads,
        eval_forms=cfg.eval_forms,
        features=cfg.features,
        demo_count=cfg.demo_count or data.protocol(catalog).eval_demo_count,
        latent_classes=cfg.latent_classes,
        imputers=cfg.imputers,
        people=cfg.people,
        limit_eval_people=data.limit_eval_people,
    )
    check_config(catalog, config)
    split = scored_people(data.split(catalog), cfg.people, data.limit_eval_people)
    config = dataclasses.replace(config, pools=fit_pools(cfg.pools, len(split.train_rows)))
    if cfg.use_gpu:
        import faiss

        if not hasattr(faiss, "get_num_gpus") or faiss.get_num_gpus() < 1:
            from ivr.errors import ConfigError

            raise ConfigError(
                "--use_gpu true: faiss sees no GPU here (faiss-cpu is installed, or no device); "
                "drop the flag or install faiss-gpu on a GPU node"
            )
    published = load_published(cfg.paper) if cfg.published else None
    results = run_baselines(catalog, split, config, setups)
    results.info.update(catalog=str(data.catalog), split_rule=split.rule, n_eval_ids=str(data.split_ids_file or ""))
    table = results.info["convention"] + "\n\n" + format_table(results, config.pools, published)

    def write(tmp: Path) -> None:
        (tmp / "table.txt").write_text(table + "\n")
        (tmp / "table.csv").write_text(table_csv(results, config.pools, published))
        (tmp / "sweep.csv").write_text(sweep_csv(results))
        out = results_json(results, config.pools, published)
        (tmp / "table.json").write_text(json.dumps(out, indent=2, ensure_ascii=False, allow_nan=False))
        if cfg.plot:
            from baselines.plots import write_plots

            write_plots(results, tmp / "plots", published)

    write_output(cfg.out, "baselines", write, overwrite=cfg.overwrite)
    print(table)
    intervals = [
        f"  {name}: {r.ci['all'][0]:.2f}-{r.ci['all'][1]:.2f}"
        for name, r in results.reports.items()
        if r.ci.get("all") and None not in r.ci["all"]
    ]
    if intervals:
        print(f"\n95% bootstrap interval of 'all' ({cfg.bootstrap} resamples of people):\n" + "\n".join(intervals))
    print(f"\nwrote {cfg.out}/table.csv, table.json, sweep.csv" + (", plots/*.png" if cfg.plot else ""))
    return 0


def scored_people(split: Any, people: str, limit: int | None) -> Any:
    """The split with ``eval_rows`` = the people scored: the test half (``test``) or test then validation
    (``evaluation``), the first ``limit`` of each half as the data module takes them."""
    import dataclasses

    import numpy as np

    test, val = np.asarray(split.test_rows)[:limit], np.asarray(split.val_rows)[:limit]
    return dataclasses.replace(split, eval_rows=test if people == "test" else np.concatenate([test, val]))


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract (exit status 2 and one ``error:`` line on bad input)."""
    return run(main, argv)


if __name__ == "__main__":
    entry_point(main)
