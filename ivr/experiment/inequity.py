"""``inequity``: sigma_INEQUITY by demographic dimension for several models side by side (Tables 19 and 2).

Every entry of the config's ``models:`` list is scored on the same people with
:func:`ivr.metrics.evaluate_predictions` (per-group accuracy, sigma per dimension, their mean)::

    models:
      - {name: "Bayes (200 demos)", bayes: {demos: 200}}            # synthetic catalogs only
      - {name: "Global (majority vote)", baseline: "Global (majority vote)"}
      - {name: "Resemble (all, top cluster)", baseline: "Resemble (all, top cluster)"}
      - {name: "my reasoner", predictions: runs/eval/indievaluereasoner_predictions.npz}

``predictions`` files are ``ivr.metrics.Predictions`` ``.npz`` files written by ``ivr.evaluate`` /
``ivr.zero_shot`` on the same catalog; baselines are computed here (``baselines.run``, one run for
all of them). The table holds sigma per dimension (rows) per model (columns) for one probe form
(``form:``, default polar as in the study); the figure compares them, and one per-group accuracy
chart per model is written under ``per_group/``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.catalog.codebook import FORMS
from ivr.errors import ConfigError, InputNotFoundError
from ivr.experiment.bayes import EvalSettings, bayes_view, eval_people, eval_split, setup_probes
from ivr.experiment.published import TABLE19_COLUMNS
from ivr.experiment.runner import Experiment, Run, slug
from ivr.experiment.scoring import score_predictors
from ivr.experiment.settings import EvalPeopleSettings, one_of
from ivr.metrics import Predictions, Report, plot_per_group
from ivr.outputs import pyplot, save_figure
from ivr.predict import FixedPredictor, Predictor, PreparedExamples, prepare
from ivr.settings import Count, Count0

MEAN_ROW = "σINEQUITY (mean)"
KINDS = ("bayes", "baseline", "predictions")


def model_entries(config: Any) -> list[dict[str, Any]]:
    """The ``models:`` list of a config mapping or of :class:`InequitySettings`, checked.

    Raises:
        ValueError: a missing list, an entry without ``name`` or without exactly one of
            ``bayes`` / ``baseline`` / ``predictions``, or repeated names.
    """
    models = config.get("models") if isinstance(config, dict) else config.models
    if not isinstance(models, list) or not models:
        raise ConfigError(
            "inequity config: 'models:' must list at least one entry, e.g. "
            "[{name: Global, baseline: 'Global (majority vote)'}]"
        )
    names = []
    for i, entry in enumerate(models):
        kinds = [k for k in KINDS if isinstance(entry, dict) and k in entry]
        if not isinstance(entry, dict) or "name" not in entry or len(kinds) != 1:
            raise ConfigError(f"inequity config: models[{i}] = {entry!r} needs a 'name' and exactly one of {KINDS}")
        from ivr.experiment.demo_count import check_entry

        check_entry(entry, i, KINDS)
        names.append(str(entry["name"]))
    if len(set(names)) != len(names):
        raise ConfigError(f"inequity config: model names repeat: {names}")
    return models


def report_from_dict(data: dict[str, Any]) -> Report:
    """Rebuild a :class:`Report` from its stored JSON (null sigma -> nan)."""
    fields = {f.name for f in dataclasses.fields(Report)}
    report = Report(**{k: v for k, v in data.items() if k in fields})
    report.inequity = _sigma_nan(report.inequity)
    return report


def _sigma_nan(inequity: dict[str, Any]) -> dict[str, Any]:
    """A stored inequity dict with null sigma turned back into nan (group sizes dropped)."""
    out = {k: v for k, v in inequity.items() if k != "group_sizes"}
    out["per_dimension"] = {d: math.nan if v is None else v for d, v in out.get("per_dimension", {}).items()}
    out["index"] = math.nan if out.get("index") is None else out["index"]
    return out


@dataclass
class InequitySettings(EvalPeopleSettings):
    """Settings of ``inequity``.

    Attributes:
        models: the models scored side by side: ``{name, bayes: {...}}``, ``{name, baseline: NAME}`` or
            ``{name, predictions: FILE.npz}``.
        form: the probe form sigma is computed on (the study: polar).
        dimensions: demographic dimensions (null = the codebook's).
        min_group_size: leave smaller groups out of sigma (1 = every group, as the study).
        bootstrap: bootstrap replicates for the intervals stored in the reports.
        n_cluster: Resemble "top cluster" size.
    """

    models: list[dict[str, Any]] = field(default_factory=list)
    form: str = "polar"
    dimensions: list[str] | None = None
    min_group_size: Count = 1
    bootstrap: Count0 = 0
    n_cluster: Count = 24


class InequityExperiment(Experiment):
    """See the module docstring; the keys are :class:`InequitySettings`."""

    name = "inequity"
    settings = InequitySettings
    title = "σ of per-group accuracy by demographic dimension (σINEQUITY = mean)"

    def adapt(self) -> list[str]:
        """On a real catalog the ``bayes:`` models are left out (one line)."""
        if self.synthetic:
            return []
        from ivr.experiment.bayes import without_bayes

        return without_bayes(
            self.cfg,
            "inequity config",
            "list baselines ({name, baseline: NAME}) or predictions files ({name, predictions: FILE})",
        )

    @property
    def form(self) -> str:
        return one_of(self.cfg.form, FORMS, "inequity config: form")

    @property
    def eval_settings(self) -> EvalSettings:
        """Which people and probes are scored (the typed ``data:`` section and ``people``)."""
        return EvalSettings.from_config({"data": self.data.to_dict(), "people": self.cfg.people})

    def _common(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog_spec,
            **self.eval_settings.params(),
            "dimensions": self.cfg.dimensions,
            "bootstrap": int(self.cfg.bootstrap),
            "min_group_size": int(self.cfg.min_group_size),
        }

    def plan(self) -> list[Run]:
        models = model_entries(self.cfg)
        common = self._common()
        runs = []
        for entry in models:
            if "bayes" in entry:
                runs.append(Run(slug(entry["name"]), {**common, "name": entry["name"], "bayes": entry["bayes"] or {}}))
            elif "predictions" in entry:
                path = Path(entry["predictions"])
                if not path.is_file():
                    raise InputNotFoundError(
                        f"inequity config: model {entry['name']!r}: predictions file {path} "
                        "does not exist (write one with python -m ivr.evaluate)"
                    )
                self._check_people(str(entry["name"]), path)
                stat = path.stat()
                runs.append(
                    Run(
                        slug(entry["name"]),
                        {
                            **common,
                            "name": entry["name"],
                            "predictions": str(path),
                            "size": stat.st_size,
                            "mtime": stat.st_mtime,
                        },
                    )
                )
        baselines = {str(e["name"]): str(e["baseline"]) for e in models if "baseline" in e}
        if baselines:
            runs.append(Run("baselines", {**common, "baselines": baselines}))
        return runs

    def examples(self, settings: EvalSettings, n_demos: int | str, view: str = "matched") -> PreparedExamples:
        """The scored people's examples with ``n_demos`` shown demonstrations per setup, read in ``view``."""
        return prepare(
            self.catalog,
            eval_people(self.catalog, settings),
            eval_split(self.catalog, settings).train_rows,
            setup_probes(self.catalog, settings.setups, settings),
            str(n_demos),
            settings.seed,
            view,
            {"eval": "evaluation"}.get(settings.people, settings.people),
        )

    def _check_people(self, name: str, path: Path) -> None:
        """A predictions file is scored on the same people as every other model, or refused before any work."""
        theirs = np.unique(Predictions.load(path).person)
        ours = np.unique(eval_people(self.catalog, self.eval_settings))
        if not np.array_equal(theirs, ours):
            raise ConfigError(
                f"inequity config: model {name!r}: predictions file {path} covers {len(theirs)} people, "
                f"the table's {self.eval_settings.people} people are {len(ours)} others: every model is "
                "scored on the same people; write the predictions with the same --data.* settings "
                "(catalog, split, seed) and --data.limit_eval_people null"
            )

    def _score(self, predictor: Predictor, examples: PreparedExamples, params: dict[str, Any]) -> dict[str, Any]:
        """One model through the one evaluation path: its report and ``n``, the people scored."""
        scored = next(
            iter(
                score_predictors(
                    [predictor],
                    examples,
                    params["dimensions"],
                    params["bootstrap"],
                    params["seed"],
                    params["min_group_size"],
                ).values()
            )
        )
        return {**scored.report.to_dict(), "n": scored.n_people}

    def execute(self, run: Run) -> dict[str, Any]:
        p = run.params
        settings = self.eval_settings
        if "baselines" in p:
            return self._baselines(p, settings)
        if "predictions" in p:
            examples = self.examples(settings, 0)
            predictor: Predictor = FixedPredictor(p["name"], {examples.view: Predictions.load(p["predictions"])})
            return {p["name"]: self._score(predictor, examples, p)}
        from ivr.predict.bayes import BayesCeiling, load_model

        cfg = p["bayes"]
        examples = self.examples(
            settings, int(cfg.get("demos", 200)), bayes_view(cfg, f"inequity config: model {p['name']!r}")
        )
        predictor = BayesCeiling(
            load_model(self.catalog_dir, f"inequity config: model {p['name']!r}"),
            bool(cfg.get("demographics", False)),
            name=p["name"],
            forms=list(cfg.get("forms", FORMS)),
        )
        return {p["name"]: self._score(predictor, examples, p)}

    def _baselines(self, p: dict[str, Any], settings: EvalSettings) -> dict[str, Any]:
        # an entry point may compose baselines (CONTRACTS); imported here so ivr never needs it otherwise
        from baselines.run import BaselineConfig, run_baselines
        from ivr.protocol.resolve import protocol_split

        split = protocol_split(self.catalog, settings.overrides(), settings.seed, settings.ids_file)[2]
        split = dataclasses.replace(split, eval_rows=eval_people(self.catalog, settings))
        n_cluster = int(self.cfg.n_cluster)
        config = BaselineConfig(
            setups=settings.setups,
            pools=("all",),
            max_n=n_cluster,
            n_cluster=n_cluster,
            seed=settings.seed,
            dimensions=p["dimensions"],
            bootstrap=p["bootstrap"],
            use_gpu=False,
            progress=False,
        )
        res = run_baselines(self.catalog, split, config)
        unknown = [b for b in p["baselines"].values() if b not in res.reports]
        if unknown:
            raise ConfigError(
                f"inequity config: baseline(s) {unknown} unknown; scored baselines: {sorted(res.reports)}"
            )
        return {name: {**res.reports[b].to_dict(), "n": int(res.rows[b]["n"])} for name, b in p["baselines"].items()}

    def reports(self, results: dict[str, dict[str, Any]]) -> dict[str, Report]:
        """Model name -> Report with the configured form as headline, in config order."""
        by_name = {name: data for res in results.values() for name, data in res.items()}
        out = {}
        for entry in model_entries(self.cfg):
            report = report_from_dict(by_name[str(entry["name"])])
            if self.form not in report.inequity_by_form:
                raise ConfigError(f"model {entry['name']!r} has no {self.form} predictions; set form: to one it has")
            report.per_group = report.per_group_by_form[self.form]
            report.inequity = _sigma_nan(report.inequity_by_form[self.form])
            out[str(entry["name"])] = report
        return out

    def table(self, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
        cols = {}
        for name, report in self.reports(results).items():
            col = dict(report.inequity["per_dimension"])
            col[MEAN_ROW] = report.inequity["index"]
            cols[name] = col
        frame = pd.DataFrame(cols)
        frame.index.name = f"dimension ({self.form})"
        return frame

    def published(self) -> pd.DataFrame | None:
        paper = (self.paper or {}).get("table19_inequity_by_dimension")
        if not paper:
            return None
        frame = pd.DataFrame(
            {label: dict(zip(paper["dimensions"], paper[key])) for key, label in TABLE19_COLUMNS.items()}
        )
        frame.loc[MEAN_ROW] = [paper["average"][key] for key in TABLE19_COLUMNS]
        frame.index.name = "dimension (polar)"
        return frame

    def extra_text(self, results: dict[str, dict[str, Any]], table: pd.DataFrame) -> str:
        lines = [f"== accuracy ({self.form} avg) and σINEQUITY, this run =="]
        for name, report in self.reports(results).items():
            acc = report.table3_row().get(f"{self.form}_avg")
            lines.append(
                f"  {name:40s} acc {acc if acc is None else round(acc, 2)!s:>6}  "
                f"σINEQUITY {report.inequity['index']:.2f}"
            )
        paper = (self.paper or {}).get("table2_inequity_index")
        if paper:
            lines.append("== Table 2 (published, zero-shot models, polar): σINEQUITY ==")
            lines += [f"  {name:40s} {value:.2f}" for name, value in paper.items()]
        return "\n".join(lines)

    def figure(self, results: dict[str, dict[str, Any]], table: pd.DataFrame, out_dir: Path) -> list[Path]:
        plt = pyplot()
        paper = self.published()
        frame = table.copy()
        if paper is not None:
            frame = frame.join(paper, how="left")
        fig, ax = plt.subplots(figsize=(max(8.0, 0.75 * len(frame)), 4.2))
        width = 0.8 / frame.shape[1]
        x = np.arange(len(frame))
        for k, col in enumerate(frame.columns):
            is_paper = paper is not None and col in paper.columns
            ax.bar(
                x + (k - (frame.shape[1] - 1) / 2) * width,
                frame[col].to_numpy(dtype=float),
                width,
                label=col,
                hatch="//" if is_paper else None,
                alpha=0.55 if is_paper else 1.0,
            )
        ax.set_xticks(x, [str(i) for i in frame.index], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel(f"σ of group accuracy ({self.form}, points)")
        ax.set_title("Value inequity by demographic dimension")
        ax.legend(fontsize=7)
        paths = [save_figure(fig, out_dir / "figure.png")]
        group_dir = out_dir / "per_group"
        group_dir.mkdir(parents=True, exist_ok=True)
        for name, report in self.reports(results).items():
            if any(report.per_group.values()):
                paths.append(plot_per_group(report, group_dir / f"{slug(name)}.png"))
        return paths
