"""Each experiment's ``--quick`` run on a small synthetic population writes its table and figure."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from ivr.catalog.store import load_catalog
from ivr.experiment.__main__ import main
from ivr.experiment.bayes import EvalSettings, eval_people, setup_probes
from ivr.metrics import evaluate_predictions
from ivr.predict.bayes import bayes_predictions, load_model
from ivr.settings import DataSettings

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"
SMALL = ["data.split_size=40", "data.split_rule=stratified"]


SPEC = "synthetic:people=2000,seed=0"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("exp_cache")


@pytest.fixture(scope="module")
def catalog_dir(cache):
    from ivr.catalog.resolve import resolve_catalog

    return resolve_catalog(SPEC, cache_dir=cache)


def names_n(out, runs, n):
    """table.json names the people of every scoring run, and table.txt prints them under the title."""
    data = json.loads((out / "table.json").read_text())
    assert data["n"] == {r: n for r in runs}
    assert f"n = {n} people in every row" in (out / "table.txt").read_text().splitlines()[1]


def run(name, catalog_dir, out, *overrides):
    sets = [f"data.catalog={catalog_dir}", *overrides]
    args = [name, "--config", str(CONFIGS / f"{name}.yaml"), "--quick", "--out", str(out), "--progress", "false"]
    outcome = main(args + [x for s in sets for x in (f"--{s.partition('=')[0]}", s.partition("=")[2])])
    assert outcome is not None, f"{name} failed"
    for f in ("table.csv", "table.json", "figure.png", "table.txt"):
        assert (out / f).stat().st_size > 0, f
    return outcome


def test_evenness_quick_matches_direct_computation(catalog_dir, cache, tmp_path):
    outcome = run("evenness", SPEC, tmp_path, f"data.cache_dir={cache}")  # the spec reuses the cached build
    table = outcome.table
    catalog = load_catalog(catalog_dir)
    assert set(table.index) == {str(v) for v in catalog.groups("Continent") if v is not None} | {"All"}
    # direct, question by question, for everybody in the refined form
    answers, n_opt = catalog.answers("refined"), catalog.codebook.n_options("refined")
    values = []
    for q in range(answers.shape[1]):
        a = answers[:, q][answers[:, q] >= 0]
        p = np.bincount(a, minlength=n_opt[q]) / len(a)
        values.append(-sum(x * math.log(x) for x in p if x > 0) / math.log(n_opt[q]))
    assert table.loc["All", "J' refined"] == pytest.approx(np.mean(values))
    n = json.loads((tmp_path / "table.json").read_text())["n"]
    assert n["All"] == len(catalog) and sum(v for k, v in n.items() if k != "All") <= len(catalog)
    assert ((table["J' polar"] > 0) & (table["J' polar"] < 1)).all()


def test_inequity_quick_side_by_side(catalog_dir, tmp_path):
    catalog = load_catalog(catalog_dir)
    settings = EvalSettings(DataSettings(split_size=40, split_rule="stratified", setups=[0]))
    preds = bayes_predictions(
        catalog,
        load_model(catalog_dir),
        eval_people(catalog, settings),
        setup_probes(catalog, settings.setups),
        ["polar"],
        20,
        0,
    )
    preds.save(tmp_path / "preds.npz")
    models = (
        "[{name: bayes, bayes: {demos: 20, forms: [polar]}}, {name: file, predictions: "
        f'"{tmp_path / "preds.npz"}"}}, {{name: Global, baseline: "Global (majority vote)"}}]'
    )
    outcome = run("inequity", catalog_dir, tmp_path / "out", *SMALL, "data.setups=[0]", f"models={models}")
    table = outcome.table
    assert list(table.columns) == ["bayes", "file", "Global"]
    assert len(table) == 17  # 16 dimensions + the mean
    expected = evaluate_predictions(preds, catalog, bootstrap=0).inequity
    assert table.loc["σINEQUITY (mean)", "file"] == pytest.approx(expected["index"])
    # a dimension left with one group in 40 people has no std (NaN) in both columns
    assert table["bayes"].to_numpy() == pytest.approx(table["file"].to_numpy(), nan_ok=True)  # same predictions
    assert table.loc["Country", "Global"] != pytest.approx(table.loc["Country", "bayes"])
    assert (tmp_path / "out" / "published.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "out" / "per_group").iterdir()) == ["bayes.png", "file.png", "global.png"]
    names_n(tmp_path / "out", ["bayes", "file", "baselines"], 20)  # the test half of 40


def test_category_matrix_quick_and_resume(catalog_dir, tmp_path):
    overrides = [*SMALL, "data.setups=[0]", "forms=[polar]"]
    outcome = run("category_matrix", catalog_dir, tmp_path, *overrides)
    matrix = outcome.table.loc["polar"]
    cats = load_catalog(catalog_dir).codebook.categories
    assert matrix.shape == (len(cats) + 2, len(cats) + 1)
    assert not matrix.isna().any().any()
    # demonstrations from every category beat none at all
    assert matrix.loc["(all categories)", "(all probes)"] > matrix.loc["(no demonstrations)", "(all probes)"] + 3
    again = run("category_matrix", catalog_dir, tmp_path, *overrides)
    assert again.ran == [] and len(again.skipped) == len(cats) + 2
    names_n(tmp_path, again.skipped, 20)


def test_bad_config_is_reported(catalog_dir, tmp_path, capsys):
    from ivr.experiment.__main__ import cli

    assert cli(["inequity", "--out", str(tmp_path / "o"), "--data.catalog", str(catalog_dir), "--models", "[]"]) == 2
    assert "models" in capsys.readouterr().err


TINY = [
    "data.limit_eval_people=4",
    "base.trainer.max_steps=2",
    "base.data.n_per_question=1",
    "base.data.batch_size=4",
    "base.model.model_config.hidden_size=32",
    "base.model.model_config.intermediate_size=64",
    "base.model.model_config.num_hidden_layers=1",
]


def test_trained_experiments_quick(catalog_dir, tmp_path):
    """demographics, continent and demo_count train tiny reasoners, score them and resume without retraining."""
    models = "[{name: Bayes, bayes: {}}, {name: both, train: {data: {demographics: with}}}]"
    demo = run("demographics", catalog_dir, tmp_path / "demo", *TINY, f"models={models}", "eval_demos=20")
    assert list(demo.table.index) == ["Bayes", "both"]
    assert not demo.table.isna().any().any()
    assert (tmp_path / "demo" / "models" / "both.ckpt").is_file()
    again = run("demographics", catalog_dir, tmp_path / "demo", *TINY, f"models={models}", "eval_demos=20")
    assert again.ran == [] and "train_both" in again.skipped
    names_n(tmp_path / "demo", [r for r in again.skipped if r.startswith("eval_")], 4)

    cont = run("continent", catalog_dir, tmp_path / "cont", *TINY, "continents=[Asia]")
    assert list(cont.table.index) == ["Asia", "All"] and "All" in cont.table.columns
    assert cont.table["All"].notna().all() and (tmp_path / "cont" / "published.csv").is_file()
    names_n(tmp_path / "cont", ["eval_asia", "eval_all"], 4)

    models = "[{name: Bayes, bayes: {}}, {name: mixed, train: {data: {demo_count: mixed}}}]"
    curves = run("demo_count", catalog_dir, tmp_path / "dc", *TINY, f"models={models}", "eval_counts=[0, 30]")
    assert curves.table.shape[0] == 4 and curves.table["all"].notna().all()
    bayes = curves.table.loc["Bayes", "all"]
    assert bayes.loc[30] > bayes.loc[0]  # demonstrations help the exact predictor
    names_n(tmp_path / "dc", [r for r in curves.ran if r.startswith("eval_")], 4)


def test_planted_answers_outside_the_shown_demonstrations_cannot_move_a_figure(catalog_dir, tmp_path):
    """Change every answer the scored people are *not* shown at 10 demonstrations (probes kept) in a copy of the
    catalog: the experiment's 10-demonstration figures do not move; at 200 demonstrations, where the changed
    answers are shown, they do (the path reads the person, and only what it shows)."""
    from test_predictors import _polar_of

    from ivr.catalog.store import Catalog, write_catalog
    from ivr.catalog.synth.model import MODEL_FILE
    from ivr.experiment.config import load_config, validate_config
    from ivr.experiment.demo_count import DemoCountExperiment, DemoCountSettings

    sets = [f"data.catalog={catalog_dir}", *SMALL, "bootstrap=0", "models=[{name: Bayes, bayes: {}}]"]
    config = validate_config(
        load_config(CONFIGS / "demo_count.yaml", quick=True, overrides=sets), DemoCountSettings, "test"
    )
    examples = DemoCountExperiment(config, tmp_path / "probe").examples(10)
    cat = load_catalog(catalog_dir)
    hidden = np.zeros(cat.refined.shape, dtype=bool)
    hidden[examples.rows] = cat.refined[examples.rows] >= 0
    for s, probes in examples.setups.items():
        hidden[np.ix_(examples.rows, probes)] = False
        hidden[examples.rows] &= ~examples.shown[s]
    assert hidden[examples.rows].sum(axis=1).min() > 50
    n_ref = np.asarray(cat.codebook.n_options("refined"))
    refined = cat.refined.copy()
    refined[hidden] = ((refined.astype(np.int64) + 1) % n_ref[None, :])[hidden]
    planted = write_catalog(
        Catalog(cat.codebook, cat.person_ids, _polar_of(cat.codebook, refined), refined, cat.demographics),
        tmp_path / "planted",
    )
    shutil.copy(Path(catalog_dir) / MODEL_FILE, planted / MODEL_FILE)
    tables = [
        run(
            "demo_count",
            folder,
            tmp_path / f"out_{name}",
            *SMALL,
            "bootstrap=0",
            "eval_counts=[10, 200]",
            "models=[{name: Bayes, bayes: {}}]",
        ).table.loc["Bayes"]
        for name, folder in (("real", catalog_dir), ("planted", planted))
    ]
    cols = ["polar_avg", "refined_avg", "all"]
    assert tables[0].loc[10, cols].tolist() == tables[1].loc[10, cols].tolist()
    assert tables[0].loc[200, cols].tolist() != tables[1].loc[200, cols].tolist()
