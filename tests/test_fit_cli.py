"""``python -m ivr.fit`` end to end on a tiny model: files, metrics, TensorBoard, and SIGKILL -> resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL_MODEL = {
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
    "tie_word_embeddings": False,
}


def build_catalog(folder: Path) -> Path:
    from ivr.catalog.synth import build_synthetic

    return build_synthetic(folder / "catalog", n_people=600, seed=0)


def fit_args(catalog: Path, out: Path, steps: int, extra: tuple[str, ...] = ()) -> list[str]:
    """A tiny, quick version of configs/tiny.yaml writing everything under ``out``."""
    return [
        sys.executable,
        "-m",
        "ivr.fit",
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--data.catalog",
        str(catalog),
        "--data.cache_dir",
        str(out.parent / "cache"),
        "--data.n_per_question",
        "2",
        "--data.split_size",
        "20",
        "--data.limit_eval_people",
        "3",
        "--data.batch_size",
        "4",
        "--data.eval_batch_size",
        "8",
        "--data.max_seq_length",
        "320",
        "--model.model_config",
        json.dumps(SMALL_MODEL),
        "--model.schedule",
        "constant",
        "--model.warmup_ratio",
        "0",
        "--trainer.max_steps",
        str(steps),
        "--trainer.val_check_interval",
        "4",
        "--trainer.log_every_n_steps",
        "2",
        "--trainer.default_root_dir",
        str(out),
        "--trainer.logger.init_args.save_dir",
        str(out / "runs"),
        "--checkpoint_dir",
        str(out / "ck"),
        "--save_every_n_steps",
        "2",
        "--out",
        str(out / "eval"),
        "--bootstrap",
        "0",
        "--eval_ckpt",
        "current",
        *extra,
    ]


def run(args: list[str], timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def load_predictions(out: Path):
    from ivr.metrics import Predictions

    return Predictions.load(out / "eval" / "indievaluereasoner_predictions.npz")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    return build_catalog(tmp_path_factory.mktemp("fitcat"))


@pytest.fixture(scope="module")
def reference(catalog, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("fitcat_ref") / "ref"
    return out, run(fit_args(catalog, out, steps=12))


def test_cli_fit_writes_checkpoints_logs_and_table(reference):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, proc = reference
    ck = out / "ck"
    assert (ck / "last.ckpt").is_file() and len(list(ck.glob("best-*.ckpt"))) == 1
    assert not list(ck.glob("*.partial"))
    logs = out / "runs" / "logs" / "version_0"
    assert list(logs.glob("events.out.tfevents.*")) and (logs / "config.yaml").is_file()
    acc = EventAccumulator(str(logs), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "val/all", "val/polar_avg", "val/refined/p0", "val/inequity/index"} <= tags
    # one tag per figure, named learning rates, no placeholder hp_metric
    assert not {"val/polar/avg", "val/refined/avg", "hp_metric"} & tags
    assert {"train/lr/decay", "train/lr/no_decay"} <= tags and not any(t.startswith("lr-") for t in tags)
    assert any(t.startswith("val/group/Continent/") for t in tags)
    assert any(t.startswith("val/category_polar/") for t in tags)
    assert "val/per_group" in acc.Tags()["images"]
    assert len(acc.Scalars("val/all")) == 3 and len(acc.Scalars("val/polar_avg")) == 3  # steps 4, 8, 12
    assert (out / "eval" / "table.csv").is_file() and (out / "eval" / "indievaluereasoner_per_group.png").is_file()
    assert "deprecated" not in proc.stderr  # every flag of fit_args is a current spelling
    assert "IndieValueReasoner" in proc.stdout and "Global (majority vote)" in proc.stdout
    # a synthetic catalog: the exact Bayes row on the same people, each model's gap to it, calibration and fit
    rows = json.loads((out / "eval" / "table.json").read_text())
    assert "Bayes ceiling (exact posterior)" in rows
    assert "Points to the Bayes ceiling" in proc.stdout and "W1 groups" in proc.stdout
    # and the profile oracle (the ceiling's profiles counted from the training people) with its gap to the ceiling:
    # counted from this small catalog's training people, the probabilities are noisy copies of the true ones, well
    # under the ceiling (58.26 vs 74.36 all here); given the true probabilities the oracle would be the ceiling
    oracle, top = rows["Profile oracle (training counts)"], rows["Bayes ceiling (exact posterior)"]
    assert oracle["all"] < top["all"] - 5 and oracle["polar_avg"] < top["polar_avg"]
    assert "Points to the profile oracle" in proc.stdout and "  Profile oracle (training counts): all" in proc.stdout
    assert (out / "eval" / "bayes_ceiling_exact_posterior_report.json").is_file()
    # distributional fit per dimension and the training clock at every validation
    assert {"val/distfit_polar/all_w1", "val/distfit_refined/Continent_w1", "val/distfit_refined/all_js"} <= tags
    assert len(acc.Scalars("time/train_cpu_min")) == 3
    # output is not a terminal here: plain progress lines every log_every_n_steps, and no noise
    assert "[ivr] train: epoch 1/" in proc.stderr and "[ivr] validation at step 4: val/all" in proc.stderr
    assert "built the statement tokenizer" in proc.stderr  # a fresh cache: the one-off build is announced
    noise = proc.stdout + proc.stderr
    assert "litlogger" not in noise and "LeafSpec" not in noise and "hp_metric" not in noise
    preds = load_predictions(out)
    assert len(set(preds.person.tolist())) == 3 and set(preds.setup.tolist()) == {0, 1, 2}
    assert set(preds.form.tolist()) == {0, 1} and preds.probs is not None


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(catalog, reference, tmp_path):
    ref_out, _ = reference
    out = tmp_path / "killed"
    args = fit_args(catalog, out, steps=12, extra=("--baselines", "false"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not list((out / "ck").glob("best-*.ckpt")):  # first validation (step 4) is done
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.time() < deadline, "the run did not reach its first validation"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "ck" / "last.ckpt").is_file()
    import torch

    killed_at = torch.load(out / "ck" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
    assert 2 <= killed_at < 12, f"the kill should land mid-run, last.ckpt is at step {killed_at}"
    run([*args, "--ckpt_path", "last"])
    resumed, ref = load_predictions(out), load_predictions(ref_out)
    assert np.array_equal(resumed.pred, ref.pred) and np.array_equal(resumed.person, ref.person)
    np.testing.assert_allclose(resumed.probs, ref.probs, atol=1e-5)


def test_evaluate_checkpoint_writes_table_and_plots(catalog, reference, tmp_path):
    ref_out, _ = reference
    out = tmp_path / "eval"
    proc = run(
        [
            sys.executable,
            "-m",
            "ivr.evaluate",
            "--config",
            str(ROOT / "configs" / "tiny.yaml"),
            "--ckpt_path",
            str(ref_out / "ck" / "last.ckpt"),
            "--out",
            str(out),
            "--published",
            "--baselines",
            "false",
            "--bootstrap",
            "0",
            "--trainer.accelerator",
            "cpu",
            "--data.catalog",
            str(catalog),
            "--data.cache_dir",
            str(ref_out.parent / "cache"),
            "--data.split_size",
            "20",
            "--data.limit_eval_people",
            "3",
            "--data.n_per_question",
            "2",
            "--data.eval_forms",
            "all",
        ]
    )
    assert {
        "table.csv",
        "table.json",
        "indievaluereasoner_report.json",
        "indievaluereasoner_per_group.png",
        "indievaluereasoner_crossed_predictions.npz",
    } <= {p.name for p in out.iterdir()}
    assert "IVR [probe=p+r, demo=mixed+200, N=1600] (paper)" in proc.stdout
    # all four (demonstration form, probe form) combinations: the matched row, then the crossed one, and the
    # header names the convention
    assert "IndieValueReasoner [crossed]" in proc.stdout and "eval_forms=all" in proc.stdout
    assert "[crossed] polar probes with refined demonstrations" in (out / "table.txt").read_text()
    # the checkpoint's weights give the same test predictions as the run that wrote it
    from ivr.metrics import Predictions

    evaluated = Predictions.load(out / "indievaluereasoner_predictions.npz")
    np.testing.assert_allclose(evaluated.probs, load_predictions(ref_out).probs, atol=1e-6)
    # the reference rows depend only on the catalog, split, people and demonstrations, which both commands share:
    # ivr.evaluate's profile oracle and ceiling are the fit's, figure for figure
    fitted_rows, rows = (json.loads((d / "table.json").read_text()) for d in (ref_out / "eval", out))
    for name in ("Profile oracle (training counts)", "Bayes ceiling (exact posterior)"):
        assert {k: rows[name][k] for k in ("polar", "refined", "all")} == {
            k: fitted_rows[name][k] for k in ("polar", "refined", "all")
        }, name
    crossed = Predictions.load(out / "indievaluereasoner_crossed_predictions.npz")
    assert np.array_equal(crossed.question, evaluated.question) and not np.allclose(crossed.probs, evaluated.probs)
