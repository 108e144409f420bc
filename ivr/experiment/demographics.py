"""``demographics`` (Table 4): training with statement and/or demographic demonstrations.

Each model of ``models:`` is scored in every evaluation mode of ``evals:`` (default: with statement
demonstrations, ``demographics: none``, and with demographic statements only, ``demographics: only``).
Trained models (``train:`` recipes over ``base:``) are evaluated with their data settings and the
mode's ``demographics`` value; the Bayes predictor (``bayes:``) conditions on ``eval_demos`` answers
when the mode shows statements and on the person's demographics when it shows them.

The study's "both" model mixed two kinds of training examples per question (400 with demographic
statements only, 400 with statement demonstrations); the shipped config trains it with exactly that
mixture of units (``units: [{unit: demo_p1, share: 2}, {unit: demo_r1, share: 2}, ...]``, see
:mod:`ivr.protocol.units`), while ``demographics: with`` would show demographics *and* statements in
every example instead. The table's ``avg`` is the mean of the evaluation columns (``metric:``,
default polar).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.errors import ConfigError
from ivr.experiment.demo_count import METRICS, model_list
from ivr.experiment.models import ModelExperiment
from ivr.experiment.runner import Run, slug
from ivr.experiment.settings import ModelExperimentSettings, one_of, typed
from ivr.outputs import pyplot, save_figure

DEFAULT_EVALS = {"eval_statements": "none", "eval_demographics": "only"}
MODES = ("none", "with", "only")
# published Table 4 rows (train_demographics, train_statements) -> our recipe names in the default config
PAPER_ROWS = {(400, 400): "statements + demographics", (800, 0): "demographics only", (0, 800): "statements only"}


@dataclass
class DemographicsSettings(ModelExperimentSettings):
    """Settings of ``demographics``.

    Attributes:
        models: ``{name, bayes: {...}}`` or ``{name, train: {data, model, trainer}}``.
        evals: evaluation column -> demographics mode (none | with | only).
        eval_demos: statement demonstrations in the evaluation, a count or ``all`` (every other question).
        metric: the table's accuracy (polar_avg, refined_avg or all).
    """

    models: list[dict[str, Any]] = field(default_factory=list)
    evals: dict[str, str] | None = None
    eval_demos: int | str = 200
    metric: str = "polar_avg"


class DemographicsExperiment(ModelExperiment):
    """Config keys: ``models``, ``evals`` ({column: demographics mode}), ``eval_demos`` (200),
    ``metric`` (polar_avg), ``base`` and the shared keys of :mod:`ivr.experiment.models`."""

    name = "demographics"
    settings = DemographicsSettings
    title = "Training and evaluating with statement vs demographic demonstrations"

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        super().check_config(config)
        demos = typed(cls.settings, config).eval_demos
        if demos != "all" and (isinstance(demos, bool) or not isinstance(demos, int) or demos < 0):
            raise ConfigError(f"--eval_demos {demos!r}: use a count >= 0 or 'all' (every other question)")

    @property
    def evals(self) -> dict[str, str]:
        evals = self.cfg.evals or DEFAULT_EVALS
        bad = {k: v for k, v in evals.items() if v not in MODES}
        if bad:
            raise ConfigError(f"demographics config: evals {bad}: each mode must be one of {list(MODES)}")
        return dict(evals)

    @property
    def metric(self) -> str:
        return one_of(self.cfg.metric, METRICS, "demographics config: metric")

    def plan(self) -> list[Run]:
        common = {**self.common_params(), "eval_demos": self.cfg.eval_demos}
        runs = []
        for entry in model_list(self.cfg):
            name = str(entry["name"])
            if "train" in entry:
                runs.append(self.train_run(name, entry["train"] or {}))
            spec = self.model_spec(entry)
            for column, mode in self.evals.items():
                runs.append(
                    Run(
                        f"eval_{slug(name)}_{slug(column)}",
                        {**common, "name": name, "column": column, "mode": mode, **spec},
                    )
                )
        return runs

    def execute(self, run: Run) -> dict[str, Any]:
        if run.id.startswith("train_"):
            return self.execute_train(run)
        p = run.params
        entry = next(e for e in model_list(self.cfg) if str(e["name"]) == p["name"])
        if "bayes" in entry:
            demos = len(self.catalog.codebook.questions) if p["eval_demos"] == "all" else p["eval_demos"]
            examples = self.examples(0 if p["mode"] == "only" else demos, demographics_only=p["mode"] == "only")
            predictor = self.bayes_predictor(p["name"], p["mode"] != "none")
        else:
            predictor, examples = self.trained_row(
                p["name"], entry["train"] or {}, {"demographics": p["mode"], "eval_demo_count": str(p["eval_demos"])}
            )
        return {"name": p["name"], "column": p["column"], **self.score(predictor, examples)}

    def table(self, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
        cols = list(self.evals)
        rows: dict[str, dict[str, Any]] = {str(e["name"]): {} for e in model_list(self.cfg)}
        for r in results.values():
            if "column" in r:
                rows[r["name"]][r["column"]] = r["row"].get(self.metric)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=cols, dtype=float)
        frame["avg"] = frame[cols].mean(axis=1)
        frame.index.name = f"model ({self.metric})"
        return frame

    def published(self) -> pd.DataFrame | None:
        paper = (self.paper or {}).get("table4_demographics_training")
        if not paper:
            return None
        rows = {}
        for r in paper["rows"]:
            label = PAPER_ROWS.get((r["train_demographics"], r["train_statements"]), "?")
            rows[f"{label} [demo {r['train_demographics']} / stmt {r['train_statements']}]"] = {
                "eval_statements": r["eval_statements"],
                "eval_demographics": r["eval_demographics"],
                "avg": r["avg"],
            }
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "training examples per question"
        return frame

    def figure(self, results: dict[str, dict[str, Any]], table: pd.DataFrame, out_dir: Path) -> list[Path]:
        plt = pyplot()
        cols = list(self.evals)
        fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(table) + 2), 4.2))
        width = 0.8 / len(cols)
        x = np.arange(len(table))
        for k, col in enumerate(cols):
            bars = ax.bar(x + (k - (len(cols) - 1) / 2) * width, table[col].to_numpy(dtype=float), width, label=col)
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        ax.set_xticks(x, [str(i) for i in table.index], rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(f"accuracy (%), {self.metric}")
        ax.set_title("Statement vs demographic demonstrations")
        ax.legend(fontsize=8)
        return [save_figure(fig, out_dir / "figure.png")]
