"""``evenness``: Shannon evenness J' of the answer distributions per continent and form (no model).

For one group of people (a continent, or everybody) and one form, every value question gets the
distribution ``p`` of the group's valid answers over the question's options, and

    H' = -sum_o p_o ln p_o        (0 ln 0 = 0)
    J' = H' / ln S                S = number of options of the question in that form

so J' = 1 when every option is chosen equally often and 0 when everyone gives the same answer.
S counts every option the question offers, chosen or not (an option nobody picks lowers J'). The
group's J' is the plain mean over the questions the group answered (each question weighs the same,
whatever its number of options or answers); questions with a single option have no J' and are left
out. The study's code has no such computation (its "evenness" function computes sigma), so there is
no published figure to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.catalog.codebook import FORMS
from ivr.errors import ConfigError
from ivr.experiment.runner import Experiment, Run, slug
from ivr.experiment.settings import FORMS as ALL_FORMS
from ivr.experiment.settings import ExperimentSettings
from ivr.metrics.evenness import option_counts, shannon_evenness
from ivr.outputs import pyplot, save_figure

ALL = "All"


@dataclass
class EvennessSettings(ExperimentSettings):
    """Settings of ``evenness``.

    Attributes:
        dimension: the demographic dimension whose groups are compared (any of the codebook's).
        forms: statement forms.
    """

    dimension: str = "Continent"
    forms: list[str] = field(default_factory=lambda: list(ALL_FORMS))


class EvennessExperiment(Experiment):
    """One run per group of the ``dimension`` (default Continent) plus everybody ("All")."""

    name = "evenness"
    settings = EvennessSettings
    title = "Shannon evenness J' of answer distributions"
    decimals = 4

    @property
    def dimension(self) -> str:
        return str(self.cfg.dimension)

    @property
    def forms(self) -> list[str]:
        forms = list(self.cfg.forms)
        bad = [f for f in forms if f not in FORMS]
        if bad:
            raise ConfigError(f"--forms {bad}: unknown; use {list(FORMS)}")
        return forms

    def people(self, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """``table.json``'s ``n``: group -> the people whose answers it counts (no model scores anyone)."""
        return {res["group"]: int(res["people"]) for res in results.values()}

    def people_header(self, results: dict[str, dict[str, Any]]) -> str:
        n = self.people(results)
        return f"n = {n.get(ALL, sum(n.values()))} people; per {self.dimension.lower()}: the people column"

    def _labels(self) -> np.ndarray:
        dims = self.catalog.codebook.dimensions
        if self.dimension not in dims:
            raise ConfigError(
                f"--dimension {self.dimension!r}: not defined by codebook "
                f"{self.catalog.codebook.name!r}; defined: {sorted(dims)}"
            )
        return self.catalog.groups(self.dimension)

    def plan(self) -> list[Run]:
        labels = self._labels()
        groups = sorted({str(v) for v in labels if v is not None}) + [ALL]
        base = {"catalog": self.catalog_spec, "dimension": self.dimension, "forms": self.forms}
        return [Run(f"{i:02d}_{slug(g)}", {**base, "group": g}) for i, g in enumerate(groups)]

    def execute(self, run: Run) -> dict[str, Any]:
        labels = self._labels()
        group = run.params["group"]
        rows = (
            np.arange(len(self.catalog))
            if group == ALL
            else np.flatnonzero(np.array([v is not None and str(v) == group for v in labels]))
        )
        codebook = self.catalog.codebook
        categories = np.array([q.category for q in codebook.questions], dtype=object)
        result: dict[str, Any] = {"group": group, "people": int(len(rows))}
        for form in self.forms:
            n_opt = np.asarray(codebook.n_options(form))
            j = shannon_evenness(option_counts(self.catalog.answers(form)[rows], int(n_opt.max())), n_opt)
            ok = ~np.isnan(j)
            result[form] = {
                "evenness": float(j[ok].mean()) if ok.any() else float("nan"),
                "questions": int(ok.sum()),
                "by_category": {
                    c: float(np.nanmean(j[categories == c])) if ok[categories == c].any() else None
                    for c in codebook.categories
                },
                "per_question": j.tolist(),
            }
        return result

    def table(self, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
        rows = {}
        for res in results.values():
            row: dict[str, Any] = {"people": res["people"]}
            for form in self.forms:
                row[f"J' {form}"] = res[form]["evenness"]
                row[f"questions {form}"] = res[form]["questions"]
            rows[res["group"]] = row
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = self.dimension
        return frame

    def figure(self, results: dict[str, dict[str, Any]], table: pd.DataFrame, out_dir: Path) -> list[Path]:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(1.1 * len(table) + 2.5, 3.8))
        width = 0.8 / len(self.forms)
        x = np.arange(len(table))
        for k, form in enumerate(self.forms):
            vals = table[f"J' {form}"].to_numpy(dtype=float)
            bars = ax.bar(x + (k - (len(self.forms) - 1) / 2) * width, vals, width, label=form)
            ax.bar_label(bars, fmt="%.3f", fontsize=6, padding=1)
        ax.set_xticks(x, [str(i) for i in table.index], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("J' = H' / ln S (mean over questions)")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"Answer evenness by {self.dimension.lower()}")
        ax.legend(fontsize=8)
        return [save_figure(fig, out_dir / "figure.png")]
