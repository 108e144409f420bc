"""``category_matrix`` (Figure 8): demonstrations from one category only, probes of every category.

Row ``c`` of the matrix: every scored person gets demonstrations drawn only from category ``c``
(``demos:`` of them, or all of that category's valid non-probe answers with ``demos: all``); the
probes of every setup are then scored per probe category (columns), as
:func:`ivr.metrics.evaluate_predictions` reports them (per setup, then mean over setups). Two
reference rows frame the matrix: no demonstrations at all (the population prior) and demonstrations
from every category. The scorer is the synthetic population's exact Bayes predictor
(:mod:`ivr.experiment.bayes`), so the matrix shows how much each category tells about the others
in that population; a catalog without ``synth_model.npz`` cannot be used.

With ``checkpoint:`` (a ``.ckpt`` of ``ivr.fit`` or of another experiment's training run) a trained
reasoner scores the rows instead, through :func:`ivr.experiment.training.predict_reasoner` with the
data module's ``eval_demo_categories`` / ``eval_demo_count``; ``checkpoint_data:`` holds the
IVRDataModule settings it was trained with (tokenizer, layout, ...) and ``trainer:`` the accelerator
settings. The data module scores the split's test people (the first ``data.limit_eval_people``), so
``people`` must be ``test`` then; any catalog works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.catalog.codebook import FORMS
from ivr.errors import ConfigError, InputNotFoundError
from ivr.experiment.bayes import EvalSettings, bayes_view, eval_people, eval_split, setup_probes
from ivr.experiment.runner import Experiment, Run, slug
from ivr.experiment.scoring import score_predictors
from ivr.experiment.settings import FORMS as ALL_FORMS
from ivr.experiment.settings import EvalPeopleSettings
from ivr.experiment.training import reasoner_examples
from ivr.outputs import pyplot, save_figure
from ivr.predict import FixedPredictor, Predictor, PreparedExamples, prepare

NONE_ROW = "(no demonstrations)"
ALL_ROW = "(all categories)"


@dataclass
class CategoryMatrixSettings(EvalPeopleSettings):
    """Settings of ``category_matrix``.

    Attributes:
        demos: demonstrations per row: ``all`` (every valid non-probe answer of the category) or a count.
        forms: probe forms scored.
        eval_forms: the evaluation convention: ``matched`` (each probe form with demonstrations of its
            own form; the default when unset), ``crossed``, ``polar`` or ``refined`` (one demonstration
            form for both).
        demo_form: the previous release's name for ``eval_forms`` (``polar`` / ``refined``); None = unset.
        demographics: show the person's demographics too.
        checkpoint: a trained reasoner's .ckpt instead of the Bayes predictor (people must be test).
        checkpoint_data: with checkpoint: the IVRDataModule settings it was trained with.
        trainer: with checkpoint: accelerator / devices / precision.
    """

    demos: int | str = "all"
    forms: list[str] = field(default_factory=lambda: list(ALL_FORMS))
    eval_forms: str | None = None
    demo_form: str | None = None
    demographics: bool = False
    checkpoint: str | None = None
    checkpoint_data: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)


class CategoryMatrixExperiment(Experiment):
    """See the module docstring; the keys are :class:`CategoryMatrixSettings`."""

    name = "category_matrix"
    settings = CategoryMatrixSettings
    title = "Accuracy by probe category (columns) with demonstrations from one category (rows)"

    @property
    def forms(self) -> list[str]:
        forms = list(self.cfg.forms)
        if not forms or any(f not in FORMS for f in forms):
            raise ConfigError(f"--forms {forms}: use a non-empty subset of {list(FORMS)}")
        return forms

    def adapt(self) -> list[str]:
        """Without ``checkpoint:`` the scorer is the Bayes predictor: a real catalog is refused before any work."""
        if self.cfg.checkpoint is None and not self.synthetic:
            raise ConfigError(
                f"category_matrix: {self.catalog_spec} is not a synthetic catalog (no synth_model.npz), "
                "and the Bayes predictor that scores the matrix needs one; give a trained reasoner "
                "with --checkpoint FILE.ckpt (and --checkpoint_data its data settings) or use a "
                "synthetic catalog ('synthetic:people=N,seed=S')"
            )
        return []

    def _n_demos(self) -> int:
        demos = self.cfg.demos
        if demos == "all":
            return len(self.catalog.codebook.questions)  # every candidate of the category
        if not isinstance(demos, int) or demos < 1:
            raise ConfigError(f"--demos {demos!r}: use 'all' or a positive count")
        return demos

    @property
    def eval_settings(self) -> EvalSettings:
        """Which people and probes are scored (the typed ``data:`` section and ``people``)."""
        return EvalSettings.from_config({"data": self.data.to_dict(), "people": self.cfg.people})

    def plan(self) -> list[Run]:
        common = {
            "catalog": self.catalog_spec,
            **self.eval_settings.params(),
            "demos": self.cfg.demos,
            "forms": self.forms,
            "demographics": bool(self.cfg.demographics),
            "eval_forms": bayes_view(self.cfg, "category_matrix config"),
        }
        checkpoint = self.cfg.checkpoint
        if checkpoint is not None:
            if not Path(str(checkpoint)).is_file():
                raise InputNotFoundError(
                    f"--checkpoint {checkpoint}: no such file; give a .ckpt written by ivr.fit "
                    "or an experiment's training run"
                )
            if common["people"] != "test":
                raise ConfigError(
                    f"--people {common['people']!r}: a checkpoint is scored on the split's test "
                    "people, use --people test"
                )
            common.update(
                checkpoint=str(Path(str(checkpoint)).resolve()),
                data=self._data_section(),
                trainer=dict(self.cfg.trainer or {}),
            )
        rows = [NONE_ROW, *self.catalog.codebook.categories, ALL_ROW]
        return [Run(f"{i:02d}_{slug(c)}", {**common, "demo_category": c}) for i, c in enumerate(rows)]

    def execute(self, run: Run) -> dict[str, Any]:
        p = run.params
        settings = self.eval_settings
        codebook = self.catalog.codebook
        category = p["demo_category"]
        n_demos, allowed = self._n_demos(), None
        if category == NONE_ROW:
            n_demos = 0
        elif category != ALL_ROW:
            allowed = tuple(i for i, q in enumerate(codebook.questions) if q.category == category)
        if "checkpoint" in p:
            predictor, examples = self._trained_row(p, n_demos, None if allowed is None else [category], settings)
        else:
            from ivr.predict.bayes import BayesCeiling, load_model

            examples = prepare(
                self.catalog,
                eval_people(self.catalog, settings),
                eval_split(self.catalog, settings).train_rows,
                setup_probes(self.catalog, settings.setups, settings),
                str(n_demos),
                settings.seed,
                p["eval_forms"],
                {"eval": "evaluation"}.get(settings.people, settings.people),
                demo_questions=allowed,
            )
            predictor = BayesCeiling(
                load_model(self.catalog_dir, "category_matrix"), p["demographics"], name=str(category), forms=self.forms
            )
        scored = next(iter(score_predictors([predictor], examples).values()))
        return {
            "demo_category": category,
            "by_category": scored.report.by_category,
            "accuracy": scored.report.table3_row(),
            "n": scored.n_people,
        }

    def _data_section(self) -> dict[str, Any]:
        """The checkpoint's IVRDataModule settings with this experiment's catalog, split and people."""
        s = self.eval_settings
        limit = self.data.limit_eval_people
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"--data.limit_eval_people {limit!r}: use a positive count or null")
        data = dict(self.cfg.checkpoint_data or {})
        data.update(
            catalog=str(self.catalog_dir),
            split_size=s.split_size,
            split_rule=s.split_rule,
            seed=s.seed,
            limit_eval_people=limit,
            eval_forms=bayes_view(self.cfg, "category_matrix config"),
            demographics="with" if self.cfg.demographics else "none",
        )
        if s.ids_file is not None:
            data["split_ids_file"] = s.ids_file
        if self.data.cache_dir is not None:
            data["cache_dir"] = str(self.data.cache_dir)
        return data

    def _trained_row(
        self, p: dict[str, Any], n_demos: int, categories: list[str] | None, settings: EvalSettings
    ) -> tuple[Predictor, PreparedExamples]:
        """The checkpoint's predictions for one row, kept to the configured setups and forms, as a row on the
        examples its data module evaluated."""
        data = {**p["data"], "eval_demo_count": str(n_demos), "eval_demo_categories": categories}
        preds, examples = reasoner_examples(p["checkpoint"], data, p["trainer"], progress=self.progress)
        forms = [FORMS.index(f) for f in self.forms]
        preds = preds.select(np.isin(preds.setup, settings.setups) & np.isin(preds.form, forms))
        return FixedPredictor(str(p["demo_category"]), {examples.view: preds}), examples

    def matrix(self, results: dict[str, dict[str, Any]], form: str) -> pd.DataFrame:
        """Demonstration category (rows) x probe category (columns) accuracy for one form."""
        cats = self.catalog.codebook.categories
        ordered = sorted(results.values(), key=lambda r: [NONE_ROW, *cats, ALL_ROW].index(r["demo_category"]))
        frame = pd.DataFrame(
            [[r["by_category"].get(form, {}).get(c, np.nan) for c in cats] for r in ordered],
            index=[r["demo_category"] for r in ordered],
            columns=cats,
            dtype=float,
        )
        frame["(all probes)"] = [r["accuracy"][f"{form}_avg"] for r in ordered]
        frame.index.name = f"demonstrations from ({form})"
        return frame

    def table(self, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
        return pd.concat({form: self.matrix(results, form) for form in self.forms}, names=["form"])

    def codes(self) -> dict[str, str]:
        """Category -> short code (initials of its capitalised words) for the console table."""
        out: dict[str, str] = {}
        for c in self.catalog.codebook.categories:
            code = "".join(w[0] for w in c.replace(",", " ").split() if w[0].isupper()) or c[:4]
            out[c] = code if code not in out.values() else f"{code}{len(out)}"
        return out

    def display(self, table: pd.DataFrame) -> pd.DataFrame:
        codes = self.codes()
        return table.rename(columns=codes, index=codes)

    def extra_text(self, results: dict[str, dict[str, Any]], table: pd.DataFrame) -> str:
        return "categories: " + "; ".join(f"{code} = {c}" for c, code in self.codes().items())

    def figure(self, results: dict[str, dict[str, Any]], table: pd.DataFrame, out_dir: Path) -> list[Path]:
        plt = pyplot()
        paths = []
        for k, form in enumerate(self.forms):
            frame = self.matrix(results, form)
            data = frame.to_numpy(dtype=float)
            fig, ax = plt.subplots(figsize=(11, 8.5))
            image = ax.imshow(data, cmap="viridis", aspect="auto")
            for (i, j), value in np.ndenumerate(data):
                if not np.isnan(value):
                    ax.text(
                        j,
                        i,
                        f"{value:.0f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if value < np.nanmean(data) else "black",
                    )
            ax.set_xticks(
                range(frame.shape[1]), [_short(c) for c in frame.columns], rotation=55, ha="right", fontsize=7
            )
            ax.set_yticks(range(frame.shape[0]), [_short(c) for c in frame.index], fontsize=7)
            ax.set_xlabel("probe category")
            ax.set_ylabel("demonstrations from")
            scorer = "Trained-reasoner" if self.cfg.checkpoint is not None else "Bayes-predictor"
            ax.set_title(f"{scorer} accuracy (%), {form} probes")
            fig.colorbar(image, ax=ax, label="accuracy (%)")
            paths.append(save_figure(fig, out_dir / ("figure.png" if k == 0 else f"figure_{form}.png")))
        return paths


def _short(label: str, width: int = 26) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
