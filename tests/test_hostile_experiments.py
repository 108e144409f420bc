"""Hostile inputs of ``python -m ivr.experiment`` on the one evaluation path: one ``error:`` line, exit status 2,
no run and no table written."""

from __future__ import annotations

from pathlib import Path

from ivr.catalog.store import load_catalog
from ivr.experiment.__main__ import cli
from ivr.experiment.bayes import EvalSettings, eval_people, setup_probes
from ivr.predict.bayes import bayes_predictions, load_model
from ivr.settings import DataSettings


def test_inequity_refuses_predictions_on_other_people(small_catalog_dir: Path, tmp_path: Path, capsys) -> None:
    """A predictions file scored on other people than the table's would put a row on different people beside
    the others: refused before any work, naming the file and the fix."""
    catalog = load_catalog(small_catalog_dir)
    other = EvalSettings(DataSettings(split_size=40, split_rule="stratified", setups=[0]), people="val")
    preds = bayes_predictions(
        catalog,
        load_model(small_catalog_dir),
        eval_people(catalog, other),
        setup_probes(catalog, other.setups),
        ["polar"],
        5,
        0,
    )
    preds.save(tmp_path / "val.npz")
    out = tmp_path / "out"
    code = cli(
        [
            "inequity",
            "--out",
            str(out),
            "--progress",
            "false",
            "--data.catalog",
            str(small_catalog_dir),
            "--data.split_rule",
            "stratified",
            "--data.split_size",
            "40",
            "--data.setups",
            "[0]",
            "--models",
            f'[{{name: val, predictions: "{tmp_path / "val.npz"}"}}]',
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: inequity config: model 'val': predictions file"), err
    assert "the same people" in err[-1] and "val.npz" in err[-1]
    assert not (out / "table.json").exists() and not list(out.glob("runs/*.json"))
