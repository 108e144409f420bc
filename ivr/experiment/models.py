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
same people: the first ``data.limit_eval_people`` of the split's test half.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ivr.errors import ConfigError
from ivr.experiment.bayes import EvalSettings, eval_people, predict_bayes, setup_probes
from ivr.experiment.config import merge
from ivr.experiment.runner import Experiment, Run, slug
from ivr.experiment.settings import ModelExperimentSettings
from ivr.experiment.training import predict_reasoner, recipe_sections, train_reasoner
from ivr.metrics import Predictions, evaluate_predictions

MODELS_DIR = "models"
SETUPS = (0, 1, 2)  # the data module always probes the study's three setups


class ModelExperiment(Experiment):
    """Shared machinery: eval people, data sections, training runs and scoring."""

    settings = ModelExperimentSettings

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """The recipe sections (``base:`` and every ``train:``) name only arguments their classes have."""
        base = config.get("base") or {}
        recipe_sections(base, {"name": "base"})
        for entry in config.get("models") or []:
            if isinstance(entry, dict) and isinstance(entry.get("train"), dict):
                recipe_sections(base, {"name": entry.get("name"), **entry["train"]})

    def adapt(self) -> list[str]:
        """On a real catalog the ``bayes:`` models are left out (one line), before any training."""
        if self.synthetic:
            return []
        from ivr.experiment.bayes import without_bayes

        return without_bayes(self.config, f"{self.name} config",
                             "add a trained model ({name, train: {...}}) or use a synthetic catalog")

    @property
    def eval_settings(self) -> EvalSettings:
        data = {**(self.config.get("data") or {}), "setups": list(SETUPS)}
        return EvalSettings.from_config({**self.config, "data": data, "people": "test"})

    @property
    def limit(self) -> int | None:
        limit = self.data.limit_eval_people
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"--data.limit_eval_people {limit!r}: use a positive count or null")
        return limit

    def common_params(self) -> dict[str, Any]:
        return {"catalog": self.catalog_spec, **self.eval_settings.params(), "limit_people": self.limit,
                "bootstrap": int(self.config.get("bootstrap", 0))}

    def scored_rows(self) -> np.ndarray:
        """Catalog rows of the scored people (as the data module picks its test people)."""
        return eval_people(self.catalog, self.eval_settings)[: self.limit]

    def data_section(self, data: dict[str, Any]) -> dict[str, Any]:
        """IVRDataModule settings with this experiment's catalog and split filled in."""
        s = self.eval_settings
        fixed = {"catalog": str(self.catalog_dir), "split_size": s.split_size, "split_rule": s.split_rule,
                 "seed": s.seed, "limit_eval_people": self.limit, "min_valid": s.min_valid, **dict(s.probes)}
        if s.ids_file is not None:
            fixed["split_ids_file"] = s.ids_file
        if self.data.cache_dir is not None:
            fixed["cache_dir"] = str(self.data.cache_dir)
        return {**data, **fixed}

    def sections(self, recipe: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """A recipe's data/model/trainer sections over ``base:``, with catalog and split filled in."""
        sections = recipe_sections(self.config.get("base") or {}, recipe)
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

    def predict_trained(self, name: str, recipe: dict[str, Any], data_overrides: dict[str, Any]) -> Predictions:
        """Predictions of the trained ``recipe`` with evaluation data settings changed by ``data_overrides``."""
        sections = self.sections(recipe)
        data = merge(sections["data"], data_overrides)
        return predict_reasoner(self.checkpoint(name), data, sections["trainer"], progress=self.progress)

    def predict_bayes(self, n_demos: int, demographics: bool, forms: list[str] | None = None,
                      view: str = "matched") -> Predictions:
        """The Bayes predictor on the scored people (``view``: the evaluation convention, default matched)."""
        return predict_bayes(self.catalog, self.catalog_dir, self.scored_rows(), setup_probes(self.catalog, SETUPS),
                             forms or ["polar", "refined"], n_demos, self.eval_settings.seed,
                             use_demographics=demographics, view=view)

    def score(self, preds: Predictions, dimensions: list[str] | None = None) -> dict[str, Any]:
        """Table-3 row, bootstrap intervals and (for ``dimensions``) per-group accuracy."""
        report = evaluate_predictions(preds, self.catalog, dimensions=dimensions or [],
                                      bootstrap=int(self.config.get("bootstrap", 0)), seed=self.eval_settings.seed)
        return {"row": report.table3_row(), "ci": report.ci, "per_group": report.per_group_by_form,
                "people": report.counts.get("people")}
