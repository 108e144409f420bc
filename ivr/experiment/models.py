"""Base of the experiments that evaluate models: Bayes predictors and reasoners trained on the fly.

Config keys shared by those experiments::

    data:                      # the shared --data.* section (ivr.settings.DataSettings)
      catalog: "synthetic:people=20000,seed=0"
      split_size: 800          # evaluation people (make_split), scored: the test half
      split_rule: study
      seed: 0
      limit_eval_people: null  # score only the first n test people (quick runs)
    bootstrap: 200             # bootstrap replicates for the confidence bands
    base:                    # ivr.fit-style sections every trained recipe starts from
      data: {...}            # IVRDataModule arguments (catalog/split settings are filled in)
      model: {...}           # IndieValueReasoner arguments
      trainer: {...}         # lightning.Trainer arguments

A trained model is one ``train`` run (weights in ``OUT/models/<id>.ckpt``) followed by its
evaluation runs; the Bayes predictor needs a synthetic catalog and no training. Both score the
same people: the first ``data.limit_eval_people`` of the split's test half. Every evaluation is one
predictor (:class:`ivr.predict.bayes.BayesCeiling`, or a trained reasoner's predictions as
:class:`ivr.predict.FixedPredictor`) run through :func:`ivr.predict.run_predictors` on the condition's
prepared examples (:meth:`ModelExperiment.examples`), so each stored row names its ``n``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ivr.errors import ConfigError
from ivr.experiment.bayes import EvalSettings, eval_split, setup_probes
from ivr.experiment.config import merge
from ivr.experiment.runner import Experiment, Run, slug
from ivr.experiment.scoring import score_one
from ivr.experiment.settings import ModelExperimentSettings, typed
from ivr.experiment.training import reasoner_examples, recipe_sections, train_reasoner
from ivr.predict import FixedPredictor, Predictor, PreparedExamples, prepare

MODELS_DIR = "models"
SETUPS = (0, 1, 2)  # the data module always probes the study's three setups


class ModelExperiment(Experiment):
    """Shared machinery: eval people, data sections, training runs and scoring."""

    settings = ModelExperimentSettings

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """The recipe sections (``base:`` and every ``train:``) name only arguments their classes have."""
        settings = typed(cls.settings, config)
        base = settings.base or {}
        recipe_sections(base, {"name": "base"})
        for entry in getattr(settings, "models", None) or []:
            if isinstance(entry, dict) and isinstance(entry.get("train"), dict):
                recipe_sections(base, {"name": entry.get("name"), **entry["train"]})

    def adapt(self) -> list[str]:
        """On a real catalog the ``bayes:`` models are left out (one line), before any training."""
        if self.synthetic:
            return []
        from ivr.experiment.bayes import without_bayes

        return without_bayes(
            self.cfg, f"{self.name} config", "add a trained model ({name, train: {...}}) or use a synthetic catalog"
        )

    @property
    def eval_settings(self) -> EvalSettings:
        return EvalSettings.from_config({"data": {**self.data.to_dict(), "setups": list(SETUPS)}, "people": "test"})

    @property
    def limit(self) -> int | None:
        limit = self.data.limit_eval_people
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"--data.limit_eval_people {limit!r}: use a positive count or null")
        return limit

    def common_params(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog_spec,
            **self.eval_settings.params(),
            "limit_people": self.limit,
            "bootstrap": int(self.cfg.bootstrap),
        }

    def scored_rows(self) -> np.ndarray:
        """Catalog rows of the scored people (as the data module picks its test people)."""
        return np.asarray(eval_split(self.catalog, self.eval_settings).test_rows)[: self.limit]

    def examples(self, n_demos: int | str, demographics_only: bool = False, view: str = "matched") -> PreparedExamples:
        """The scored people's examples under one condition: ``n_demos`` shown demonstrations per setup drawn by
        the protocol's sampler (none with ``demographics_only``), read in ``view``."""
        s = self.eval_settings
        split = eval_split(self.catalog, s)
        return prepare(
            self.catalog,
            self.scored_rows(),
            split.train_rows,
            setup_probes(self.catalog, SETUPS, s),
            str(n_demos),
            s.seed,
            view,
            "test",
            demographics_only=demographics_only,
            table=self._table(),
        )

    def _table(self) -> Any:
        if getattr(self, "_person_table", None) is None:
            from ivr.protocol.examples import PersonTable

            self._person_table = PersonTable(self.catalog)
        return self._person_table

    def data_section(self, data: dict[str, Any]) -> dict[str, Any]:
        """IVRDataModule settings with this experiment's catalog and split filled in."""
        s = self.eval_settings
        fixed = {
            "catalog": str(self.catalog_dir),
            "split_size": s.split_size,
            "split_rule": s.split_rule,
            "seed": s.seed,
            "limit_eval_people": self.limit,
            "min_valid": s.min_valid,
            **dict(s.probes),
        }
        if s.ids_file is not None:
            fixed["split_ids_file"] = s.ids_file
        if self.data.cache_dir is not None:
            fixed["cache_dir"] = str(self.data.cache_dir)
        return {**data, **fixed}

    def sections(self, recipe: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """A recipe's data/model/trainer sections over ``base:``, with catalog and split filled in."""
        sections = recipe_sections(self.cfg.base or {}, recipe)
        sections["data"] = self.data_section(sections["data"])
        return sections

    def train_run(self, name: str, recipe: dict[str, Any]) -> Run:
        """The run that trains ``recipe`` (its id is ``train_<name>``)."""
        sections = self.sections(recipe)
        return Run(f"train_{slug(name)}", {"train": name, **sections, "catalog": self.catalog_spec})

    def model_spec(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The run parameters that identify a ``models:`` entry (its Bayes settings or full recipe)."""
        if "bayes" in entry:
            return {"bayes": entry["bayes"] or {}}
        return {"train": self.sections(entry["train"] or {})}

    def checkpoint(self, name: str) -> Path:
        return self.out / MODELS_DIR / f"{slug(name)}.ckpt"

    def is_complete(self, run: Run, result: dict[str, Any]) -> bool:
        # a training run is only done while its checkpoint is still there
        return "checkpoint" not in result or Path(result["checkpoint"]).exists()

    def execute_train(self, run: Run) -> dict[str, Any]:
        sections = {k: run.params[k] for k in ("data", "model", "trainer")}
        return train_reasoner(sections, self.checkpoint(run.params["train"]), progress=self.progress)

    def trained_row(
        self, name: str, recipe: dict[str, Any], data_overrides: dict[str, Any]
    ) -> tuple[Predictor, PreparedExamples]:
        """The trained ``recipe`` (evaluation data settings changed by ``data_overrides``) as a row named
        ``name``, with the examples its data module evaluated: the predictions are scored on those people,
        and refused on any other (:class:`ivr.predict.FixedPredictor`)."""
        sections = self.sections(recipe)
        data = merge(sections["data"], data_overrides)
        preds, examples = reasoner_examples(self.checkpoint(name), data, sections["trainer"], progress=self.progress)
        return FixedPredictor(name, {examples.view: preds}), examples

    def bayes_model(self, what: str = "the Bayes predictor") -> Any:
        """The synthetic catalog's model, loaded once (:func:`ivr.predict.bayes.load_model`)."""
        if getattr(self, "_synth", None) is None:
            from ivr.predict.bayes import load_model

            self._synth = load_model(self.catalog_dir, what)
        return self._synth

    def bayes_predictor(self, name: str, demographics: bool, forms: list[str] | None = None) -> Predictor:
        """The Bayes predictor as a row named ``name`` (the view is the examples')."""
        from ivr.predict.bayes import BayesCeiling

        return BayesCeiling(self.bayes_model(), use_demographics=demographics, name=name, forms=forms)

    def score(
        self, predictor: Predictor, examples: PreparedExamples, dimensions: list[str] | None = None
    ) -> dict[str, Any]:
        """One predictor through the one evaluation path: Table-3 row, bootstrap intervals, (for ``dimensions``)
        per-group accuracy and ``n``, the people scored (:func:`ivr.experiment.scoring.row_result`)."""
        return score_one(predictor, examples, dimensions or [], int(self.cfg.bootstrap), self.eval_settings.seed)
