"""``continent`` (Figure 6): one reasoner per training continent plus a global one, scored per continent.

For every continent in ``continents:`` (default: every continent of the catalog) a reasoner is
trained on training people of that continent only (``data.train_filter: continent=<name>``), and one
on everybody ("All"). Each is scored on the same test people; their accuracy is split by the test
person's continent with :func:`ivr.metrics.evaluate_predictions` (per-group accuracy of the
Continent dimension), and "All" is the overall average. The table is the training x test matrix
for ``form:`` (polar, as the study's figure), printed beside the published Figure 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.catalog.codebook import FORMS
from ivr.errors import ConfigError
from ivr.experiment.models import ModelExperiment
from ivr.experiment.runner import Run, slug
from ivr.experiment.settings import ModelExperimentSettings, one_of
from ivr.outputs import pyplot, save_figure

ALL = "All"
DIMENSION = "Continent"


@dataclass
class ContinentSettings(ModelExperimentSettings):
    """Settings of ``continent``.

    Attributes:
        continents: training continents (null = every continent of the catalog).
        form: the probe form of the matrix (the study's figure: polar).
    """

    continents: list[str] | None = None
    form: str = "polar"


class ContinentExperiment(ModelExperiment):
    """Config keys: ``continents`` (null = all), ``form`` (polar), ``base`` and the shared keys of
    :mod:`ivr.experiment.models`."""

    name = "continent"
    settings = ContinentSettings
    title = "Accuracy of per-continent reasoners (rows: training continent; columns: test continent)"

    @property
    def form(self) -> str:
        return one_of(self.cfg.form, FORMS, "continent config: form")

    def continents(self) -> list[str]:
        present = sorted({str(v) for v in self.catalog.groups(DIMENSION) if v is not None})
        chosen = self.cfg.continents or present
        unknown = [c for c in chosen if c not in present]
        if unknown:
            raise ConfigError(f"continent config: continents {unknown} are not in the catalog; present: {present}")
        return list(chosen)

    def recipes(self) -> dict[str, dict[str, Any]]:
        """Training continent (or All) -> recipe."""
        out = {c: {"data": {"train_filter": f"continent={c}"}} for c in self.continents()}
        out[ALL] = {"data": {"train_filter": None}}
        return out

    def plan(self) -> list[Run]:
        common = self.common_params()
        runs = []
        for name, recipe in self.recipes().items():
            runs.append(self.train_run(name, recipe))
            runs.append(Run(f"eval_{slug(name)}", {**common, "name": name, "train": self.sections(recipe)}))
        return runs

    def execute(self, run: Run) -> dict[str, Any]:
        if run.id.startswith("train_"):
            return self.execute_train(run)
        name = run.params["name"]
        predictor, examples = self.trained_row(name, self.recipes()[name], {})
        return {"name": name, **self.score(predictor, examples, [DIMENSION])}

    def table(self, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
        test = sorted({str(v) for v in self.catalog.groups(DIMENSION) if v is not None})
        paper = (self.paper or {}).get("figure6_continent_models")
        if paper:  # the published column order, then any other continent
            test = [c for c in paper["columns"] if c in test] + [c for c in test if c not in paper["columns"]]
        rows = {}
        for name in self.recipes():
            r = results[f"eval_{slug(name)}"]
            groups = (r["per_group"].get(self.form) or {}).get(DIMENSION, {})
            rows[name] = [groups.get(c, np.nan) for c in test] + [r["row"].get(f"{self.form}_avg")]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=[*test, ALL], dtype=float)
        frame.index.name = f"trained on ({self.form})"
        return frame

    def published(self) -> pd.DataFrame | None:
        paper = (self.paper or {}).get("figure6_continent_models")
        if not paper:
            return None
        frame = pd.DataFrame.from_dict(
            {k: v for k, v in paper.items() if k != "columns"}, orient="index", columns=paper["columns"]
        )
        frame.index.name = "trained on (polar)"
        return frame

    def figure(self, results: dict[str, dict[str, Any]], table: pd.DataFrame, out_dir: Path) -> list[Path]:
        plt = pyplot()
        panels = [("this run", table)]
        paper = self.published()
        if paper is not None:
            panels.append(("published (Figure 6)", paper))
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.2), squeeze=False)
        values = np.concatenate([f.to_numpy(dtype=float).ravel() for _, f in panels])
        low, high = float(np.nanmin(values)), float(np.nanmax(values))  # one colour scale for both panels
        for ax, (label, frame) in zip(axes[0], panels):
            data = frame.to_numpy(dtype=float)
            image = ax.imshow(data, cmap="viridis", aspect="auto", vmin=low, vmax=high)
            for (i, j), value in np.ndenumerate(data):
                if not np.isnan(value):
                    ax.text(
                        j,
                        i,
                        f"{value:.1f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if value < np.nanmean(data) else "black",
                    )
            ax.set_xticks(range(frame.shape[1]), list(frame.columns), rotation=40, ha="right", fontsize=8)
            ax.set_yticks(range(frame.shape[0]), list(frame.index), fontsize=8)
            ax.set_xlabel("test continent")
            ax.set_ylabel("training continent")
            ax.set_title(f"{label}: {self.form} accuracy (%)", fontsize=9)
            fig.colorbar(image, ax=ax)
        return [save_figure(fig, out_dir / "figure.png")]
