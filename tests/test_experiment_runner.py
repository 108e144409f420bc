"""The experiment runner: resume skips finished runs, outputs are written, configs merge."""

import json
from pathlib import Path

import pandas as pd
import pytest

from ivr.experiment.config import load_config
from ivr.experiment.runner import Experiment, Run, run_experiment
from ivr.outputs import pyplot, save_figure


class Squares(Experiment):
    name = "squares"
    title = "squares"

    def __init__(self, config, out, paper=None):
        super().__init__(config, out, paper)
        self.calls: list[str] = []

    def plan(self):
        return [Run(f"n{k}", {"k": k, "power": self.config.get("power", 2)}) for k in self.config["ks"]]

    def execute(self, run):
        self.calls.append(run.id)
        return {"k": run.params["k"], "value": run.params["k"] ** run.params["power"]}

    def table(self, results):
        return pd.DataFrame({"value": {r["k"]: r["value"] for r in results.values()}})

    def figure(self, results, table, out_dir):
        plt = pyplot()
        fig, ax = plt.subplots()
        ax.plot(table.index, table["value"])
        return [save_figure(fig, Path(out_dir) / "figure.png")]

    def published(self):
        return pd.DataFrame({"value": {1: 1.0}})


def test_resume_skips_finished_runs(tmp_path):
    exp = Squares({"ks": [1, 2, 3]}, tmp_path)
    first = run_experiment(exp, progress=False)
    assert exp.calls == ["n1", "n2", "n3"] and first.skipped == []
    for name in ("table.csv", "table.json", "figure.png", "published.csv", "table.txt", "experiment.json"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "runs" / "n2.json").read_text())["result"]["value"] == 4

    again = Squares({"ks": [1, 2, 3]}, tmp_path)
    out = run_experiment(again, progress=False)
    assert again.calls == [] and sorted(out.skipped) == ["n1", "n2", "n3"]
    assert out.table["value"].to_dict() == {1: 1, 2: 4, 3: 9}

    (tmp_path / "runs" / "n3.json").unlink()  # a killed experiment: one run missing
    partial = Squares({"ks": [1, 2, 3, 4]}, tmp_path)
    out = run_experiment(partial, progress=False)
    assert partial.calls == ["n3", "n4"] and sorted(out.skipped) == ["n1", "n2"]


def test_changed_parameters_are_recomputed(tmp_path):
    run_experiment(Squares({"ks": [2]}, tmp_path), progress=False)
    cubed = Squares({"ks": [2], "power": 3}, tmp_path)
    out = run_experiment(cubed, progress=False)
    assert cubed.calls == ["n2"] and out.results["n2"]["value"] == 8
    assert not list((tmp_path / "runs").glob(".*tmp"))  # no temporary files left behind


def test_corrupt_run_file_is_named(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "n1.json").write_text("{not json")
    with pytest.raises(ValueError, match="n1.json"):
        run_experiment(Squares({"ks": [1]}, tmp_path), progress=False)


def test_duplicate_run_ids_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        run_experiment(Squares({"ks": [1, 1]}, tmp_path), progress=False)


def test_config_quick_section_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {catalog: big}\nmodel: {d: 200, e: 1}\nquick:\n  data: {catalog: small}\n  model: {d: 10}\n")
    assert load_config(path) == {"data": {"catalog": "big"}, "model": {"d": 200, "e": 1}}
    quick = load_config(path, quick=True, overrides=["model.e=2", "forms=[polar]"])
    assert quick == {"data": {"catalog": "small"}, "model": {"d": 10, "e": 2}, "forms": ["polar"]}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        load_config(path, overrides=["forms"])
    with pytest.raises(ValueError, match="missing.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_config_keys_of_the_previous_release_move_into_data(tmp_path, capsys):
    path = tmp_path / "old.yaml"
    path.write_text("catalog: big\nsplit_size: 40\nquick:\n  limit_people: 3\n")
    assert load_config(path, quick=True, overrides=["seed=4"]) == {
        "data": {"catalog": "big", "split_size": 40, "limit_eval_people": 3, "seed": 4}
    }
    assert "deprecated" in capsys.readouterr().err


class WithFiles(Squares):
    def execute(self, run):
        path = self.out / f"{run.id}.bin"
        path.write_bytes(b"x")
        self.calls.append(run.id)
        return {"k": run.params["k"], "value": 0, "file": str(path)}

    def is_complete(self, run, result):
        return Path(result["file"]).exists()


def test_run_whose_files_are_gone_is_recomputed(tmp_path):
    run_experiment(WithFiles({"ks": [1, 2]}, tmp_path), progress=False)
    (tmp_path / "n1.bin").unlink()
    again = WithFiles({"ks": [1, 2]}, tmp_path)
    run_experiment(again, progress=False)
    assert again.calls == ["n1"]
