"""Experiments, elicitation, the ceiling, checkpoint names and data export with values the shipped configs
never use (issue 23): the documented defaults (``eval_demo_count: null`` / ``all``), real catalogs,
protocol overrides."""

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.parametrize("count", [None, "all"])
def test_ceiling_with_the_protocols_eval_demo_count(small_catalog_dir: Path, tmp_path: Path, count) -> None:
    """``--data.eval_demo_count null`` (the default) or ``all``: the ceiling reads the resolved count (this
    crashed after training when the ceiling was handed the unresolved value)."""
    from ivr.catalog.store import load_catalog
    from ivr.catalog.synth import SynthModel
    from ivr.ceiling import ceiling_predictors
    from ivr.data.datamodule import IVRDataModule
    from ivr.predict import from_datamodule
    from ivr.predict.bayes import bayes_predictions
    from ivr.predict.runner import to_predictions

    dm = IVRDataModule(
        catalog=str(small_catalog_dir),
        n_per_question=1,
        split_size=20,
        split_rule="stratified",
        eval_demo_count=count,
        limit_eval_people=3,
        cache_dir=str(tmp_path),
        check_tokenization=False,
    )
    dm.setup("test")
    rows = np.asarray(dm.split.test_rows)[:3]
    examples = from_datamodule(dm, rows=rows, setups=[0, 1, 2])
    ceiling = ceiling_predictors(dm)[-1]
    ceiling.fit(examples.train)
    got = to_predictions(ceiling.predict_proba(examples), examples)
    resolved = dm.eval_recipe.demo_count
    assert resolved.isdigit() and int(resolved) > 0
    cat = load_catalog(small_catalog_dir)
    want = bayes_predictions(
        cat,
        SynthModel.load(small_catalog_dir),
        rows,
        {s: dm.setups[s] for s in (0, 1, 2)},
        ["polar", "refined"],
        resolved,
        dm.hparams.seed,
        view="matched",
    )
    np.testing.assert_array_equal(got.pred, want.pred)


# ---- experiments on any catalog ----------------------------------------------------------------------


def experiment(name: str, config: dict, out: Path):
    from ivr.experiment import experiment_class
    from ivr.experiment.config import validate_config
    from ivr.experiment.published import load_published

    cls = experiment_class(name)
    config = validate_config(config, cls.settings, name, None)
    cls.check_config(config)
    return cls(config, out, load_published())


def test_demographics_on_a_real_catalog_leaves_the_bayes_model_out(real_catalog: Path, tmp_path: Path) -> None:
    """The shipped demographics config lists the Bayes model first: on a real catalog it is left out before
    any run (it stopped with "no synth_model.npz"), and ``eval_demos: all`` is a valid setting."""
    import yaml

    config = yaml.safe_load(Path("configs/experiments/demographics.yaml").read_text())
    config.pop("quick")
    config["data"].update(catalog=str(real_catalog), split_size=None, split_rule=None)
    config["eval_demos"] = "all"
    exp = experiment("demographics", config, tmp_path / "out")
    notes = exp.adapt()
    assert len(notes) == 1 and "'Bayes (exact)'" in notes[0] and "synthetic" in notes[0]
    runs = exp.plan()
    assert runs and not any("bayes" in r.params for r in runs)
    assert {r.params.get("eval_demos") for r in runs if r.id.startswith("eval_")} == {"all"}


def test_experiment_of_bayes_models_only_is_refused_on_a_real_catalog(real_catalog: Path, tmp_path: Path) -> None:
    exp = experiment(
        "demo_count", {"data": {"catalog": str(real_catalog)}, "models": [{"name": "B", "bayes": {}}]}, tmp_path / "out"
    )
    from ivr.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a synthetic catalog"):
        exp.adapt()


def test_elicitation_on_a_real_catalog_without_the_bayes_policy_and_scorer(
    real_catalog: Path, tmp_path: Path, capsys
) -> None:
    """bayes-eig / the bayes scorer are left out with a line each; the rest runs; no WVS-7 figure is printed."""
    from ivr.experiment.__main__ import cli

    out = tmp_path / "el"
    assert (
        cli(
            [
                "elicitation",
                "--data.catalog",
                str(real_catalog),
                "--data.split_size",
                "null",
                "--data.split_rule",
                "null",
                "--out",
                str(out),
                "--policies",
                "[random, bayes-eig, neighbours]",
                "--scorers",
                "[bayes, resemble]",
                "--ks",
                "[0, 2]",
                "--group_k",
                "2",
                "--bootstrap",
                "0",
                "--pool",
                "all",
                "--progress",
                "false",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "left out --policies bayes-eig" in err and "left out --scorers bayes" in err
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "score_resemble_neighbours.json",
        "score_resemble_random.json",
        "seq_neighbours.json",
        "seq_random.json",
    ]


def test_elicitation_with_only_bayes_is_refused_before_training(real_catalog: Path, tmp_path: Path, capsys) -> None:
    from ivr.experiment.__main__ import cli

    out = tmp_path / "el"
    assert (
        cli(
            [
                "elicitation",
                "--data.catalog",
                str(real_catalog),
                "--data.split_size",
                "null",
                "--data.split_rule",
                "null",
                "--out",
                str(out),
                "--policies",
                "[bayes-eig]",
                "--scorers",
                "[reasoner]",
                "--ks",
                "[0, 2]",
                "--progress",
                "false",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --policies [bayes-eig]: it needs a synthetic catalog")
    assert not (out / "models").exists() and not list((out / "runs").glob("*.json"))


def test_published_figures_only_beside_a_wvs7_catalog(
    real_catalog: Path, small_catalog_dir: Path, tmp_path: Path, capsys
) -> None:
    """The inequity experiment prints Table 19 beside a WVS-7 (synthetic) catalog, never beside another survey."""
    from ivr.experiment.__main__ import cli

    models = '[{name: "Global", baseline: "Global (majority vote)"}]'
    for catalog, wvs in ((real_catalog, False), (small_catalog_dir, True)):
        out = tmp_path / ("wvs" if wvs else "own")
        assert (
            cli(
                [
                    "inequity",
                    "--data.catalog",
                    str(catalog),
                    "--data.split_size",
                    "100",
                    "--data.split_rule",
                    "stratified",
                    "--models",
                    models,
                    "--dimensions",
                    "null",
                    "--out",
                    str(out),
                    "--progress",
                    "false",
                ]
            )
            == 0
        )
        text = capsys.readouterr()
        assert ("(published)" in text.out) is wvs and (out / "published.csv").exists() is wvs
        assert ("Table 2 (published" in text.out) is wvs
        assert ("published figures are WVS-7's" in text.err) is not wvs


@pytest.mark.parametrize("override", [{"probes_per_category": 2}, {"n_setups": 2}])
def test_elicitation_pool_follows_the_protocol_overrides(small_catalog_dir: Path, tmp_path: Path, override) -> None:
    """The training pool (fixed order, neighbours, Resemble) never holds a scored person, whatever the protocol."""
    data = {"catalog": str(small_catalog_dir), "split_size": 100, "split_rule": "stratified", **override}
    exp = experiment("elicitation", {"data": data, "policies": ["random"], "scorers": ["resemble"]}, tmp_path / "o")
    scored, pool = set(exp.scored_rows().tolist()), set(exp.train_rows().tolist())
    assert len(scored) == 50 and len(pool) > 500
    assert not scored & pool
    assert not scored & set(exp.pool_rows("all").tolist())


# ---- checkpoint names ----------------------------------------------------------------------------------


def test_best_checkpoint_is_named_by_epoch_step_and_figure(tmp_path: Path) -> None:
    """The best file says what made it best, so it is never taken for last.ckpt at the same step."""
    import torch

    from callbacks.checkpointing import checkpoint_callbacks

    best, last = checkpoint_callbacks(tmp_path, every_n_train_steps=2)
    metrics = {"epoch": torch.tensor(1), "step": torch.tensor(948), "val/all": torch.tensor(65.8312)}
    name = Path(best.format_checkpoint_name(metrics)).name
    assert name == "best-epoch1-step948-val_all65.83.ckpt"
    assert Path(last.format_checkpoint_name(metrics, filename=last.CHECKPOINT_NAME_LAST)).name == "last.ckpt"
    assert tmp_path.joinpath(name).match("best-*.ckpt")  # what --ckpt_path best and the README's glob look for


# ---- results independent of the thread count ------------------------------------------------------------

EIG_SCRIPT = """
import hashlib, sys
import numpy as np
from ivr.catalog.store import load_catalog
from ivr.catalog.synth import SynthModel
from ivr.elicit.bayes import BayesEIGPolicy
from ivr.elicit.policies import RandomPolicy
from ivr.elicit.state import simulate, states_for
from ivr.experiment.bayes import setup_probes
cat = load_catalog(sys.argv[1])
policy = BayesEIGPolicy(SynthModel.load(sys.argv[1]))
states = states_for(cat, np.arange(60), 0, setup_probes(cat, (0,))[0])
simulate(RandomPolicy(0), states, cat.refined, 12)  # 12 answers each: posteriors away from the prior
scores = [policy.scores(states)]
simulate(policy, states, cat.refined, 25)
scores.append(policy.scores(states))
digest = hashlib.sha256(b"".join(np.ascontiguousarray(s).tobytes() for s in scores))
digest.update(repr([s.asked for s in states]).encode())
print(digest.hexdigest())
"""


def test_bayes_eig_does_not_depend_on_the_thread_count(small_catalog_dir: Path) -> None:
    """The EIG scores (a BLAS product) and the questions asked are bit-identical with 1 and 2 threads: the
    elicitation rows of a run do not move with OMP_NUM_THREADS."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    digests = []
    for threads in ("1", "2"):
        env = {
            **os.environ,
            "PYTHONPATH": str(root),
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }
        proc = subprocess.run(
            [sys.executable, "-c", EIG_SCRIPT, str(small_catalog_dir)],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        digests.append(proc.stdout.strip())
    assert digests[0] == digests[1]
