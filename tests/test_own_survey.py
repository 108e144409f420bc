"""Your own survey end to end: CSV -> catalog -> protocol -> baselines -> fit -> evaluate -> export.

The survey is ivr/examples/small_survey.py's (12 questions: an 11-option 0-10 scale, a 1-10 scale, a
3-option item; codes exported as ``3.0``, blanks, a 99 "don't know"), 300 people. No protocol flag is
given anywhere: every command reads the protocol derived from the survey's size. The fit config is
configs/tiny_survey.yaml with a smaller model and budget (its data settings untouched).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SMALL_MODEL = {
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    "tie_word_embeddings": False,
}


def small_survey():
    from ivr.examples import small_survey as module

    return module


def write_survey(folder: Path, people: int) -> tuple[Path, Path]:
    """codebook.yaml and survey.csv as ivr/examples/small_survey.py writes them."""
    import csv

    mod = small_survey()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "codebook.yaml").write_text(yaml.safe_dump(mod.codebook(), sort_keys=False))
    rows = mod.answers(people, seed=0)
    with open(folder / "survey.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "codebook.yaml", folder / "survey.csv"


def tiny_config(tmp: Path) -> Path:
    """configs/tiny_survey.yaml with a smaller model, 1 epoch of a few steps, and every output under ``tmp``."""
    cfg = yaml.safe_load((ROOT / "configs" / "tiny_survey.yaml").read_text())
    cfg["checkpoint_dir"] = str(tmp / "ck")
    cfg["trainer"].update(
        max_epochs=1,
        max_steps=12,
        default_root_dir=str(tmp / "runs"),
        log_every_n_steps=4,
        callbacks=[{"class_path": "callbacks.reporting.ValueReportCallback"}],
    )
    cfg["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp / "runs")
    cfg["model"]["model_config"] = SMALL_MODEL
    cfg["data"].update(n_per_question=8, batch_size=8, cache_dir=str(tmp / "cache"))
    cfg["bootstrap"] = 0
    path = tmp / "tiny_survey.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=400
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    return proc


@pytest.mark.slow
def test_csv_to_trained_reasoner_without_protocol_flags(tmp_path, capsys):
    from baselines.__main__ import cli as baselines_cli
    from ivr.catalog.__main__ import cli as catalog_cli
    from ivr.catalog.store import load_catalog

    codebook, survey = write_survey(tmp_path / "survey", people=300)
    cat = tmp_path / "cat"
    assert (
        catalog_cli(
            ["build", "--codebook", str(codebook), "--input", str(survey), "--out", str(cat), "--progress", "false"]
        )
        == 0
    )
    catalog = load_catalog(cat)
    n_options = {q.id: len(q.refined) for q in catalog.codebook.questions}
    assert len(n_options) == 12 and n_options["life_sat"] == 11 and n_options["trust_people"] == 3
    assert int(catalog.refined[:, list(n_options).index("life_sat")].max()) == 10  # code 10.0 -> the 11th option

    capsys.readouterr()
    assert catalog_cli(["protocol", str(cat), "--json"]) == 0
    out = capsys.readouterr()
    facts = json.loads(out.out)
    assert [s["n_probes"] for s in facts["setups"]] == [3, 3, 3] and facts["protocol"]["eval_demo_count"] == "all"
    assert 0 < facts["split_size"] <= facts["n_eligible"] and out.err == ""  # not degenerate: no warning

    # the default pools: 1600 is more than this survey's training people, so only 'all' runs (was a traceback)
    assert (
        baselines_cli(
            [
                "--data.catalog",
                str(cat),
                "--out",
                str(tmp_path / "base"),
                "--bootstrap",
                "0",
                "--progress",
                "false",
                "--max_n",
                "5",
                "--n_cluster",
                "5",
            ]
        )
        == 0
    )
    assert "default Resemble pool of 1600 people is left out" in capsys.readouterr().err
    table = json.loads((tmp_path / "base" / "table.json").read_text())
    assert table["info"]["n_eval"] == facts["split_size"]
    assert {m for m in table["methods"] if "Resemble" in m} == {"Resemble (all, top 1)", "Resemble (all, top cluster)"}

    config = tiny_config(tmp_path)
    fit = run("ivr.fit", "--config", str(config), "--data.catalog", str(cat), cwd=tmp_path)
    assert "IndieValueReasoner" in fit.stdout and "Global (majority vote)" in fit.stdout
    ckpt = tmp_path / "ck" / "last.ckpt"  # tiny_survey.yaml's eval_ckpt: last (the members' end state)
    assert f"[ivr] testing the last checkpoint (--eval_ckpt): {ckpt} (step " in fit.stderr  # the file evaluated below

    ev = run(
        "ivr.evaluate",
        "--config",
        str(config),
        "--data.catalog",
        str(cat),
        "--ckpt_path",
        str(ckpt),
        "--out",
        str(tmp_path / "eval"),
        "--bootstrap",
        "0",
        cwd=tmp_path,
    )
    assert "every valid answer as a demonstration" in ev.stdout
    from ivr.metrics import Predictions

    preds = Predictions.load(next((tmp_path / "eval").glob("*_predictions.npz")))
    life = list(n_options).index("life_sat")
    rows = (preds.question == life) & (preds.form == 1)
    if rows.any():  # the 0-10 scale is probed in some setup: its 11 refined options all get a probability
        assert np.isfinite(preds.probs[rows][:, :11]).all()
        assert np.allclose(preds.probs[rows][:, :11].sum(axis=1), 1.0, atol=1e-4)

    export = tmp_path / "train.jsonl"
    run(
        "ivr.data",
        "export",
        "--config",
        str(config),
        "--data.catalog",
        str(cat),
        "--out",
        str(export),
        "--limit",
        "40",
        "--progress",
        "false",
        cwd=tmp_path,
    )
    records = [json.loads(line) for line in export.read_text().splitlines()]
    # 40 sequences, one record per probe: tiny_survey's demo_count: setup leaves several labelled probes each
    assert len(records) > 40 and all(r["messages"][-1]["content"].startswith("Option") for r in records)
    assert len({r["person_id"] for r in records}) <= 40
