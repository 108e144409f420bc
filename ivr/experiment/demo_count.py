"""``demo_count`` (Figure 5, Figures 4/9): accuracy against the number of test demonstrations.

Every model of the config's ``models:`` list is scored with ``eval_counts`` demonstrations each::

    models:
      - {name: Bayes, bayes: {}}                              # exact predictor (synthetic catalogs)
      - {name: "Bayes + demographics", bayes: {demographics: true}}
      - {name: "mixed", train: {data: {demo_count: mixed}}}    # a reasoner trained with this recipe
      - {name: "mixed + demographics", train: {data: {demo_count: mixed, demographics: with}}}

``train:`` holds ``data`` / ``model`` / ``trainer`` sections merged over ``base:`` (the recipes of
the study: ``demo_count`` "50", "200", "mixed", "mixed+200"); the trained model is evaluated with the
same data settings and ``eval_demo_count`` set to each count. The table lists polar, refined and
overall accuracy per (model, count) with the bootstrap interval of ``metric``; the figure draws
``metric`` against the count with that interval as a band. The study's zero-shot Table 14 (200
polar demonstrations, polar probes) is printed for reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.errors import ConfigError
from ivr.experiment.bayes import bayes_view
from ivr.experiment.models import ModelExperiment
from ivr.experiment.runner import Run, slug
from ivr.experiment.settings import ModelExperimentSettings, one_of
from ivr.outputs import pyplot, save_figure
from ivr.settings import Count0

METRICS = ("polar_avg", "refined_avg", "all")
#: keys of a models: entry, and of its bayes: part
ENTRY_KEYS = ("name", "bayes", "train", "baseline", "predictions")
BAYES_KEYS = ("demos", "demographics", "forms", "eval_forms", "demo_form")


@dataclass
class DemoCountSettings(ModelExperimentSettings):
    """Settings of ``demo_count``.

    Attributes:
        models: ``{name, bayes: {demographics, demo_form}}`` or ``{name, train: {data, model, trainer}}``.
        eval_counts: test demonstration counts.
        metric: the figure's accuracy (polar_avg, refined_avg or all).
    """

    models: list[dict[str, Any]] = field(default_factory=list)
    eval_counts: list[Count0] = field(default_factory=lambda: [10, 25, 50, 100, 150, 200])
    metric: str = "all"


def check_entry(entry: dict[str, Any], i: int, kinds: tuple[str, ...]) -> None:
    """Unknown keys of a ``models:`` entry (and of its ``bayes:`` part) are errors with a "did you mean"."""
    from ivr.cli import did_you_mean

    for key in entry:
        if key not in ENTRY_KEYS or (key in ENTRY_KEYS[1:] and key not in kinds):
            raise ConfigError(
                f"--models: models[{i}] has an unknown key {key!r} (use 'name' and one of "
                f"{list(kinds)}){did_you_mean(key, ['name', *kinds])}"
            )
    bayes = entry.get("bayes")
    if isinstance(bayes, dict):
        for key in bayes:
            if key not in BAYES_KEYS:
                raise ConfigError(
                    f"--models: models[{i}].bayes has an unknown key {key!r} (use {list(BAYES_KEYS)})"
                    f"{did_you_mean(key, BAYES_KEYS)}"
                )


def model_list(config: Any, kinds: tuple[str, ...] = ("bayes", "train")) -> list[dict[str, Any]]:
    """The ``models:`` entries of a config mapping or of typed settings, checked (a name and exactly one of
    ``kinds`` each).

    Raises:
        ValueError: a missing list, a malformed entry or repeated names.
    """
    models = config.get("models") if isinstance(config, dict) else config.models
    if not isinstance(models, list) or not models:
        raise ConfigError(f"config: 'models:' must list at least one entry with a name and one of {list(kinds)}")
    for i, entry in enumerate(models):
        if not isinstance(entry, dict) or "name" not in entry or sum(k in entry for k in kinds) != 1:
            raise ConfigError(f"config: models[{i}] = {entry!r} needs a 'name' and exactly one of {list(kinds)}")
        check_entry(entry, i, kinds)
    names = [str(e["name"]) for e in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"config: model names repeat: {names}")
    return models


class DemoCountExperiment(ModelExperiment):
    """Config keys: ``models``, ``eval_counts`` ([10, 25, 50, 100, 150, 200]), ``metric`` (all),
    ``bootstrap`` and the shared keys of :mod:`ivr.experiment.models`."""

    name = "demo_count"
    settings = DemoCountSettings
    title = "Accuracy against the number of test demonstrations"

    @property
    def counts(self) -> list[int]:
        counts = self.cfg.eval_counts
        if not isinstance(counts, list) or not counts or any(not isinstance(c, int) or c < 0 for c in counts):
            raise ConfigError(f"demo_count config: eval_counts {counts!r}; use a list of counts >= 0")
        return counts

    @property
    def metric(self) -> str:
        return one_of(self.cfg.metric, METRICS, "demo_count config: metric")

    def plan(self) -> list[Run]:
        common = self.common_params()
        runs = []
        for entry in model_list(self.cfg):
            name = str(entry["name"])
            if "train" in entry:
                runs.append(self.train_run(name, entry["train"] or {}))
            for d in self.counts:
                spec = self.model_spec(entry)
                runs.append(Run(f"eval_{slug(name)}_d{d:03d}", {**common, "name": name, "demos": d, **spec}))
        return runs

    def execute(self, run: Run) -> dict[str, Any]:
        p = run.params
        if run.id.startswith("train_"):
            return self.execute_train(run)
        entry = next(e for e in model_list(self.cfg) if str(e["name"]) == p["name"])
        if "bayes" in entry:
            cfg = entry["bayes"] or {}
            examples = self.examples(p["demos"], view=bayes_view(cfg, f"demo_count config: model {p['name']!r}"))
            predictor = self.bayes_predictor(p["name"], bool(cfg.get("demographics", False)))
        else:
            predictor, examples = self.trained_row(
                p["name"], entry["train"] or {}, {"eval_demo_count": str(p["demos"])}
            )
        return {"name": p["name"], "demos": p["demos"], **self.score(predictor, examples)}

    def _evals(self, results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in results.values() if "demos" in r]

    def table(self, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
        rows = {}
        for r in self._evals(results):
            row = {m: r["row"].get(m) for m in METRICS}
            low, high = r["ci"].get(self.metric) or [None, None]
            row.update({f"{self.metric} ci low": low, f"{self.metric} ci high": high, "people": r["people"]})
            rows[(r["name"], r["demos"])] = row
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=["model", "demonstrations"])
        order = [str(e["name"]) for e in model_list(self.cfg)]
        return frame.sort_index(key=lambda idx: idx.map(order.index) if idx.name == "model" else idx)

    def published(self) -> pd.DataFrame | None:
        paper = (self.paper or {}).get("table14_zero_shot_polar")
        if not paper:
            return None
        frame = pd.DataFrame.from_dict(paper, orient="index", columns=["polar P0", "polar P1", "polar P2", "polar avg"])
        frame.index.name = "zero-shot, 200 polar demonstrations (Table 14)"
        return frame

    def figure(self, results: dict[str, dict[str, Any]], table: pd.DataFrame, out_dir: Path) -> list[Path]:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name in dict.fromkeys(table.index.get_level_values("model")):
            part = table.loc[name].sort_index()
            x = part.index.to_numpy()
            ax.plot(x, part[self.metric].to_numpy(dtype=float), marker="o", label=name)
            low = part[f"{self.metric} ci low"].to_numpy(dtype=float)
            high = part[f"{self.metric} ci high"].to_numpy(dtype=float)
            if not np.isnan(low).all():
                ax.fill_between(x, low, high, alpha=0.2)
        ax.set_xlabel("test demonstrations")
        ax.set_ylabel(f"accuracy (%), {self.metric}")
        ax.set_title("Accuracy vs number of demonstrations (band: bootstrap 95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return [save_figure(fig, out_dir / "figure.png")]
