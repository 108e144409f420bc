"""The resumable experiment runner.

An experiment is a list of independent *runs* (one model, one condition, one continent ...). Each
finished run is stored as ``OUT/runs/<run id>.json`` -- written through a temporary file and a
rename, so a killed experiment leaves only whole files -- together with the parameters that produced
it. Starting the experiment again skips every run whose file exists with the same parameters and
recomputes the others. When all runs are there, the experiment turns them into its table
(``table.csv`` / ``table.json``), its figure (``figure.png``) and, where the study published the same
table, ``published.csv``, and prints ours beside the published one -- on a WVS-7 catalog only
(:func:`ivr.experiment.published.is_wvs7`); on another survey the study's figures are not printed.
Before planning, :meth:`Experiment.adapt` fits the config to the catalog (methods that need a
synthetic catalog are left out of a real one, with one line each, before any work).
"""

from __future__ import annotations

import re
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from ivr.catalog.resolve import open_catalog
from ivr.catalog.store import Catalog
from ivr.outputs import clean_json, read_json, side_by_side, write_csv, write_json, write_text
from ivr.progress import Progress
from ivr.settings import DataSettings

RUNS_DIR = "runs"


def slug(text: str) -> str:
    """A file-name-safe lower-case form of ``text`` (``"North America"`` -> ``"north_america"``)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_").lower() or "x"


@dataclass
class Run:
    """One unit of work.

    Attributes:
        id: file-name-safe identifier, unique within the experiment.
        params: everything the result depends on (compared on resume; JSON-able).
    """

    id: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What :func:`run_experiment` did.

    Attributes:
        out: output folder.
        results: run id -> result.
        ran: ids computed now.
        skipped: ids found finished in the output folder.
        table: the experiment's table.
        files: written output files.
    """

    out: Path
    results: dict[str, dict[str, Any]]
    ran: list[str]
    skipped: list[str]
    table: pd.DataFrame
    files: list[Path]


class Experiment(ABC):
    """Base class: subclasses say which runs exist, how one is computed and how results are shown.

    Args:
        config: the experiment's settings (YAML config after ``--quick`` / ``--set``).
        out: output folder.
        paper: published figures (:func:`ivr.experiment.published.load_published`), or None.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    decimals: ClassVar[int] = 2  # console display of the table
    #: the typed settings (a dataclass, :mod:`ivr.experiment.settings`): the keys a config may hold
    settings: ClassVar[type | None] = None
    progress: bool = True  # progress bars inside runs (set by run_experiment)

    def __init__(self, config: dict[str, Any], out: Path, paper: dict[str, Any] | None = None) -> None:
        self.config = config
        #: the typed settings (an instance of ``settings``): what the experiment reads after validation
        self.cfg: Any = None
        if self.settings is not None:
            from ivr.experiment.settings import typed

            self.cfg = typed(self.settings, config)
        self.out = Path(out)
        self.paper = paper
        self._catalog: tuple[Catalog, Path] | None = None

    @property
    def data(self) -> DataSettings:
        """The config's shared ``data:`` section (catalog and evaluation people)."""
        if self.cfg is not None:
            return self.cfg.data
        return DataSettings.from_value(self.config.get("data") or {})

    def recorded_config(self) -> dict[str, Any]:
        """The settings as run (after :meth:`adapt`), for ``experiment.json``."""
        if self.cfg is None:
            return self.config
        from dataclasses import asdict

        return asdict(self.cfg)

    @property
    def catalog_spec(self) -> str:
        """The config's ``data.catalog`` (default: a small synthetic population)."""
        return str(self.data.catalog)

    @property
    def catalog(self) -> Catalog:
        """The experiment's catalog, opened once on first use."""
        return self._open()[0]

    @property
    def catalog_dir(self) -> Path:
        """The folder the catalog was loaded from."""
        return self._open()[1]

    def _open(self) -> tuple[Catalog, Path]:
        if self._catalog is None:
            catalog = open_catalog(self.catalog_spec, self.data.cache_dir)
            self._catalog = catalog, catalog.folder
        return self._catalog

    @abstractmethod
    def plan(self) -> list[Run]:
        """The runs this configuration needs (cheap: no heavy work here)."""

    @abstractmethod
    def execute(self, run: Run) -> dict[str, Any]:
        """Compute one run; returns a JSON-able result."""

    @abstractmethod
    def table(self, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
        """The experiment's table from every run's result."""

    @abstractmethod
    def figure(self, results: dict[str, dict[str, Any]], table: pd.DataFrame, out_dir: Path) -> list[Path]:
        """Write the figure(s) (PNG) into ``out_dir``; returns their paths."""

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """Checks of a config beyond its typed keys, before anything runs (default none)."""

    @property
    def synthetic(self) -> bool:
        """Whether the catalog is a synthetic population (its folder holds the generator's exact model)."""
        from ivr.catalog.synth.model import MODEL_FILE

        return (self.catalog_dir / MODEL_FILE).is_file()

    def adapt(self) -> list[str]:
        """Fit the config to the catalog before planning (e.g. leave out what needs a synthetic catalog).

        Returns:
            One note per change, printed before any run.

        Raises:
            ConfigError: nothing of the config can run on this catalog (names the fix).
        """
        return []

    def is_complete(self, run: Run, result: dict[str, Any]) -> bool:
        """Whether a stored result can be reused (e.g. the files it names still exist); default yes."""
        return True

    def published(self) -> pd.DataFrame | None:
        """The study's figures for the same table, when it published them."""
        return None

    def display(self, table: pd.DataFrame) -> pd.DataFrame:
        """The table as printed on the console (default: as written; wide tables may shorten labels)."""
        return table

    def extra_text(self, results: dict[str, dict[str, Any]], table: pd.DataFrame) -> str:
        """More console text after the tables (default none)."""
        return ""

    def people(self, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """``table.json``'s ``n``: run id -> the people its rows were scored on
        (:func:`ivr.experiment.scoring.people_counts`)."""
        from ivr.experiment.scoring import people_counts

        return people_counts(results)

    def people_header(self, results: dict[str, dict[str, Any]]) -> str:
        """The ``n = ... people`` line printed under the title."""
        from ivr.experiment.scoring import people_line

        return people_line(results)


def _stored(exp: Experiment, path: Path, run: Run) -> dict[str, Any] | None:
    """The stored result of ``run`` when its file exists with the same parameters and is complete."""
    if not path.is_file():
        return None
    data = read_json(path)
    if data.get("params") != clean_json(run.params):
        print(f"[experiment] {path.name}: parameters changed since it was written; recomputing", file=sys.stderr)
        return None
    if not exp.is_complete(run, data["result"]):
        print(f"[experiment] {path.name}: files it refers to are gone; recomputing", file=sys.stderr)
        return None
    return data["result"]


def run_experiment(exp: Experiment, progress: bool = True) -> Outcome:
    """Run every unfinished run of ``exp``, then write its table, figure and published comparison.

    Args:
        exp: the configured experiment.
        progress: show a progress bar over the runs.

    Returns:
        The :class:`Outcome`.

    Raises:
        ValueError: two runs share an id (an experiment bug).
        ConfigError: a stored run file is corrupt (named; delete it to recompute).
    """
    exp.progress = progress
    for note in exp.adapt() + _own_figures_only(exp):
        print(f"[experiment] {exp.name}: {note}", file=sys.stderr)
    runs = exp.plan()
    ids = [r.id for r in runs]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"experiment {exp.name!r} planned duplicate run ids: {repeated}")
    run_dir = exp.out / RUNS_DIR
    run_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    ran: list[str] = []
    skipped: list[str] = []
    bar = Progress(len(runs), exp.name, "runs", enabled=progress)
    for run in runs:
        path = run_dir / f"{run.id}.json"
        stored = _stored(exp, path, run)
        if stored is not None:
            results[run.id] = stored
            skipped.append(run.id)
            bar.update()
            continue
        bar.set_postfix_str(run.id)
        start = time.perf_counter()
        result = clean_json(exp.execute(run))
        write_json(path, {"id": run.id, "params": run.params, "seconds": time.perf_counter() - start, "result": result})
        results[run.id] = result
        ran.append(run.id)
        bar.update()
    bar.close()
    table = exp.table(results)
    people = exp.people(results)
    files = [
        write_csv(exp.out / "table.csv", table),
        write_json(
            exp.out / "table.json",
            {"experiment": exp.name, "title": exp.title, "n": people, "table": _frame_json(table), "runs": results},
        ),
    ]
    files += exp.figure(results, table, exp.out)
    paper = exp.published()
    if paper is not None:
        files.append(write_csv(exp.out / "published.csv", paper))
    text = side_by_side(exp.display(table), paper, exp.title, exp.decimals)
    header = exp.people_header(results)
    if header:  # under the "== title (this run) ==" line
        head, _, rest = text.partition("\n")
        text = f"{head}\n{header}\n{rest}"
    extra = exp.extra_text(results, table)
    text = f"{text}\n{extra}" if extra else text
    files.append(write_text(exp.out / "table.txt", text + "\n"))
    files.append(
        write_json(
            exp.out / "experiment.json",
            {
                "experiment": exp.name,
                "config": exp.recorded_config(),
                "ran": ran,
                "skipped": skipped,
            },
        )
    )
    print(text)
    print(f"[experiment] {exp.name}: {len(ran)} run(s) computed, {len(skipped)} reused; wrote {exp.out}")
    return Outcome(exp.out, results, ran, skipped, table, files)


def _own_figures_only(exp: Experiment) -> list[str]:
    """Drop the study's (WVS-7) figures from an experiment on another survey; the note saying so."""
    from ivr.experiment.published import is_wvs7

    if not exp.paper or is_wvs7(exp.catalog.codebook):
        return []
    had = exp.published() is not None
    exp.paper = None
    return (
        []
        if not had
        else [
            f"the study's published figures are WVS-7's; codebook {exp.catalog.codebook.name!r} is another "
            "survey, so none are printed beside its results"
        ]
    )


def _frame_json(frame: pd.DataFrame) -> dict[str, Any]:
    """``{"index": [...], "columns": [...], "data": [[...]]}`` with nan -> null."""
    return {
        "index": [str(i) for i in frame.index],
        "columns": [str(c) for c in frame.columns],
        "data": clean_json(frame.to_numpy().tolist()),
    }
