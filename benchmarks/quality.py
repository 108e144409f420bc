"""Quality benchmark (not a test): ``python -m benchmarks.quality [--configs [configs/tiny.yaml, ...]]``.

``--suite real`` runs the real-survey suite instead (:mod:`benchmarks.real`: every method per public
survey, the best classical one and the reasoner's margin over it); the rest of this text is the default
``--suite configs``.

For each fit config: run ``python -m ivr.fit --config C`` (its own checkpoint, log and report folders under
``--work_dir/<config name>``), time it, and collect from its report, on the same test people, the
reasoner's accuracy ("all", polar, refined) with 95% bootstrap intervals beside Global majority,
Resemble (top 1, top cluster), the classical imputers, the profile oracle and the exact Bayes ceiling
(:mod:`ivr.ceiling`), each with its people n and CPU-minutes (``table.json`` rows:
:func:`ivr.predict.table_json_row`), the training CPU-minutes (this process,
validation excluded, from ``callbacks.timing.TrainingClock``) and the command's CPU-minutes (fit,
evaluation, baselines and ceiling). The learning curve (validation "all" against training
CPU-minutes, read from the TensorBoard events) is drawn for every config in one PNG, with the test
people's Resemble top-cluster, profile-oracle and Bayes rows as reference lines. ``--reuse true`` rebuilds the summary
from finished runs without fitting again. Prints the table and writes ``summary.md``, ``summary.json``
and ``learning_curve.png`` into ``--out``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ivr.cli import entry_point
from ivr.outputs import OutputKind, check_output, register_kind, write_output

PROG = "python -m benchmarks.quality"
KIND = register_kind(OutputKind("bench_quality", PROG, ("summary.md", "summary.json", "learning_curve.png")))
ROWS = {
    "reasoner": "IndieValueReasoner",
    "global": "Global (majority vote)",
    "top1": "Resemble (all, top 1)",
    "cluster": "Resemble (all, top cluster)",
    "gbt": "Gradient-boosted trees (per question)",
    "irt": "Latent traits (IRT, rank 6)",
    "oracle": "Profile oracle (training counts)",
    "bayes": "Bayes ceiling (exact posterior)",
}
REAL_KIND = register_kind(
    OutputKind("bench_real", PROG + " --suite real", ("real_suite.md", "real_suite.json", "real_suite.png"))
)
DEFAULT_CONFIGS = ["configs/tiny.yaml", "configs/cpu.yaml", "configs/cpu_set.yaml"]
REAL_CONFIG = "configs/tiny_survey.yaml"
KEYS = (("all", "all"), ("polar", "polar_avg"), ("refined", "refined_avg"))


def _children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def run_fit(config: str, work: Path, bootstrap: int, extra: list[str]) -> dict[str, Any]:
    """One ``ivr.fit`` run into ``work``; returns its command, wall and CPU seconds (also written to bench.json)."""
    work.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "ivr.fit",
        "--config",
        config,
        "--checkpoint_dir",
        str(work / "checkpoints"),
        "--overwrite",
        "true",
        "--out",
        str(work / "eval"),
        "--bootstrap",
        str(bootstrap),
        "--trainer.default_root_dir",
        str(work),
        "--trainer.logger.init_args.save_dir",
        str(work),
        "--imputers",
        "true",
        *extra,
    ]
    print(f"[ivr] bench_quality: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    cpu0, wall0 = _children_cpu(), time.perf_counter()
    with open(work / "fit.log", "w") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    facts = {
        "command": " ".join(["python", *cmd[1:]]),
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": _children_cpu() - cpu0,
        "returncode": code,
    }
    (work / "bench.json").write_text(json.dumps(facts, indent=2))
    if code != 0:
        tail = (work / "fit.log").read_text().splitlines()[-15:]
        raise RuntimeError(
            f"{config}: ivr.fit exited with {code}; last lines of {work / 'fit.log'}:\n" + "\n".join(tail)
        )
    return facts


def curve(work: Path) -> list[tuple[float, float, float]]:
    """(training CPU-minutes, training wall-minutes, val/all) at each validation of the run's newest log."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = sorted(work.glob("logs/version_*"), key=lambda p: int(p.name.split("_")[-1]))
    if not runs:
        return []
    acc = EventAccumulator(str(runs[-1]), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    if not {"val/all", "time/train_cpu_min"} <= tags:
        return []
    # one entry of each per validation, in order (the module logs val/all one step before the clock's step)
    cpu, wall, acc_all = (
        sorted(acc.Scalars(t), key=lambda e: e.step) for t in ("time/train_cpu_min", "time/train_wall_min", "val/all")
    )
    return [(c.value, w.value, a.value) for c, w, a in zip(cpu, wall, acc_all)]


def collect(name: str, work: Path) -> dict[str, Any]:
    """The run's table rows (with intervals), timing facts and learning curve."""
    table = json.loads((work / "eval" / "table.json").read_text())
    facts = json.loads((work / "bench.json").read_text())
    points = curve(work)
    log = (work / "fit.log").read_text() if (work / "fit.log").exists() else ""
    train_cpu = next(
        (float(line.split("training time: ")[1].split()[0]) for line in log.splitlines() if "training time: " in line),
        points[-1][0] if points else float("nan"),
    )
    people = next(
        (int(line.split(":")[1].split(";")[0]) for line in log.splitlines() if line.startswith("Test people:")), None
    )
    return {
        "name": name,
        "rows": {k: table[v] for k, v in ROWS.items() if v in table},
        "facts": facts,
        "train_cpu_min": train_cpu,
        "curve": points,
        "test_people": people,
    }


def _cell(row: dict[str, Any] | None, key: str) -> str:
    if row is None:
        return "–"
    ci = row.get("ci", {}).get(key)
    return f"{row[key]:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def summary_table(results: list[dict[str, Any]]) -> str:
    """Markdown: one block of rows per config, accuracy with 95% intervals, gaps, CPU-minutes."""
    lines = [
        "| config | method | n | all [95% CI] | polar | refined | CPU-min (fit + predict) | training CPU-min "
        "| command CPU-min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for k, label in ROWS.items():
            row = res["rows"].get(k)
            if row is None:
                continue
            cpu = (f"{res['train_cpu_min']:.1f}", f"{res['facts']['cpu_s'] / 60:.1f}") if k == "reasoner" else ("", "")
            own = row.get("cpu_seconds")
            lines.append(
                f"| {res['name']} | {label} | {row.get('n', '–')} | "
                + " | ".join(_cell(row, key) for _, key in KEYS)
                + f" | {'' if own is None else f'{own / 60:.2f}'} | {cpu[0]} | {cpu[1]} |"
            )
        r, c, o, b = (res["rows"].get(k) for k in ("reasoner", "cluster", "oracle", "bayes"))
        if r and c and b:
            vs = " / − oracle" if o else ""
            lines.append(
                f"| {res['name']} | reasoner − top cluster{vs} / − Bayes | "
                + " | ".join(
                    f"{r[key] - c[key]:+.2f}"
                    + (f" / {r[key] - o[key]:+.2f}" if o else "")
                    + f" / {r[key] - b[key]:+.2f}"
                    for _, key in KEYS
                )
                + " | | | |"
            )
    return "\n".join(lines)


def plot_curves(results: list[dict[str, Any]], path: Path) -> None:
    from ivr.outputs import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, res in enumerate(results):
        color = f"C{i}"
        if res["curve"]:
            x, _, y = zip(*res["curve"])
            ax.plot(x, y, marker="o", color=color, label=f"{res['name']}: reasoner (validation people)")
        for k, style in (("cluster", "--"), ("oracle", "-."), ("bayes", ":")):
            if k in res["rows"]:
                ax.axhline(
                    res["rows"][k]["all"],
                    color=color,
                    linestyle=style,
                    linewidth=1,
                    label=f"{res['name']}: {ROWS[k]} (test people)",
                )
    ax.set_xlim(left=0)
    ax.set_xlabel("training CPU-minutes (process time, validation excluded)")
    ax.set_ylabel('accuracy "all" (%)')
    ax.set_title("Learning curve of the reasoner against the baselines and the Bayes ceiling")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    from ivr.cli import add_output_arguments, make_parser

    p = make_parser(PROG, __doc__.split("\n")[0])
    p.add_argument(
        "--suite",
        type=str,
        default="configs",
        help="configs: the fit configs on the synthetic population; real: the real-survey suite",
    )
    p.add_argument(
        "--configs",
        type=list[str] | None,
        default=None,
        help=f"fit configs (default {DEFAULT_CONFIGS}; --suite real: [{REAL_CONFIG}])",
    )
    p.add_argument(
        "--surveys",
        type=list[str] | None,
        default=None,
        help="--suite real: the surveys to run (default all: bfi, epi, kakadu, msq)",
    )
    p.add_argument("--work_dir", type=str, default="runs/bench_quality_runs", help="where each config's run goes")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of people for the intervals")
    p.add_argument("--reuse", type=bool, default=False, help="summarise finished runs in --work_dir, fit nothing")
    p.add_argument("--fit_args", type=list[str], default=[], help="extra ivr.fit flags for every config")
    add_output_arguments(p, "runs/bench_quality", "summary folder")
    cfg = p.parse_args(sys.argv[1:] if argv is None else argv)
    if cfg.suite not in ("configs", "real"):
        from ivr.errors import ConfigError

        raise ConfigError(f"--suite {cfg.suite!r}: use configs or real")
    if cfg.suite == "real":
        return real_main(cfg)
    check_output(cfg.out, KIND, cfg.overwrite)
    results = []
    for config in cfg.configs or DEFAULT_CONFIGS:
        name = Path(config).stem
        work = Path(cfg.work_dir) / name
        if not cfg.reuse:
            run_fit(config, work, cfg.bootstrap, list(cfg.fit_args))
        results.append(collect(name, work))
    text = summary_table(results)

    def write(tmp: Path) -> None:
        (tmp / "summary.md").write_text(text + "\n")
        (tmp / "summary.json").write_text(json.dumps(results, indent=2))
        plot_curves(results, tmp / "learning_curve.png")

    write_output(cfg.out, KIND, write, cfg.overwrite)
    people = ", ".join(f"{r['name']} {r['test_people']}" for r in results)
    print(
        f"Test people: {people}; accuracy in percent with 95% bootstrap intervals\n{text}\n"
        f"[ivr] wrote {cfg.out}/summary.md, summary.json and learning_curve.png"
    )
    return results


def real_main(cfg: Any) -> list[dict[str, Any]]:
    """``--suite real``: :func:`benchmarks.real.run_suite`, printed and written to ``--out``."""
    from benchmarks import real as bench_real

    out = cfg.out if cfg.out != "runs/bench_quality" else "runs/bench_real"
    check_output(out, REAL_KIND, cfg.overwrite)
    if cfg.configs is not None and len(cfg.configs) != 1:
        from ivr.errors import ConfigError

        raise ConfigError(f"--suite real takes one fit config in --configs, got {cfg.configs}")
    config = cfg.configs[0] if cfg.configs else REAL_CONFIG
    work = Path(cfg.work_dir if cfg.work_dir != "runs/bench_quality_runs" else "runs/bench_real_runs")
    results = bench_real.run_suite(
        cfg.surveys or list(bench_real.SURVEYS), config, work, cfg.bootstrap, cfg.reuse, list(cfg.fit_args)
    )
    text = bench_real.suite_table(results)

    def write(tmp: Path) -> None:
        (tmp / "real_suite.md").write_text(text + "\n")
        (tmp / "real_suite.json").write_text(json.dumps(results, indent=2))
        bench_real.plot_suite(results, tmp / "real_suite.png")

    write_output(out, REAL_KIND, write, cfg.overwrite)
    print(
        f"Real surveys, config {config}: accuracy in percent with 95% bootstrap intervals on each survey's test "
        f"people (n); CPU-minutes: the reasoner's training, each baseline's own\n{text}\n"
        f"[ivr] wrote {out}/real_suite.md, real_suite.json and real_suite.png"
    )
    return results


if __name__ == "__main__":
    entry_point(main)
