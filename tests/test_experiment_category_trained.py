"""Evaluation demonstrations restricted to categories, and ``category_matrix`` with a trained reasoner."""

from pathlib import Path

import numpy as np
import pytest

from ivr.catalog.store import load_catalog
from ivr.data.fixtures import tiny_datamodule
from ivr.experiment.__main__ import main
from ivr.experiment.training import train_reasoner

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"


def test_eval_demos_come_only_from_the_chosen_categories(tmp_path):
    dm = tiny_datamodule(tmp_path, eval_demo_categories=None)
    dm.setup("fit")
    cats = list(dm.codebook.categories[:2])
    dm = tiny_datamodule(tmp_path, eval_demo_categories=cats)
    dm.setup("fit")
    allowed = {j for j, q in enumerate(dm.codebook.questions) if q.category in cats}
    for i in range(len(dm._test)):
        ex = dm._test.example(i)
        demos = set(ex.demo_questions.tolist())
        assert demos and demos <= allowed
        assert not demos & set(ex.probe_questions.tolist())
        # every valid non-probe answer of those categories (fewer than eval_demo_count=200 exist)
        valid = set(np.flatnonzero(dm.table.valid[ex.row]).tolist())
        assert demos == (valid & allowed) - set(ex.probe_questions.tolist())


def test_unknown_eval_demo_category_names_the_flag(tmp_path):
    dm = tiny_datamodule(tmp_path, eval_demo_categories=["Nope"])
    with pytest.raises(ValueError, match="eval_demo_categories.*'Nope'.*known categories"):
        dm.setup("fit")


def test_category_matrix_scores_a_trained_checkpoint(tmp_path):
    dm = tiny_datamodule(tmp_path)  # writes the random catalog (and tokenizer) under tmp_path
    data = {**{k: v for k, v in dm.hparams.items()}, "n_per_question": 1}
    model = {
        "model_config": {
            "model_type": "llama",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "max_position_embeddings": 512,
        }
    }
    ckpt = tmp_path / "tiny.ckpt"
    train_reasoner({"data": data, "model": model, "trainer": {"max_steps": 2}}, ckpt, progress=False)
    out = tmp_path / "out"
    sets = [
        ("data.catalog", data["catalog"]),
        ("checkpoint", str(ckpt)),
        ("data.cache_dir", data["cache_dir"]),
        ("data.split_size", "20"),
        ("data.limit_eval_people", "2"),
        ("forms", "[polar]"),
        ("data.setups", "[0, 1]"),
        ("demos", "5"),
        ("checkpoint_data", "{tokenizer: statement, probes_per_sequence: 8, batch_size: 4}"),
    ]
    args = [
        "category_matrix",
        "--config",
        str(CONFIGS / "category_matrix.yaml"),
        "--out",
        str(out),
        "--progress",
        "false",
    ]
    outcome = main(args + [x for k, v in sets for x in (f"--{k}", v)])
    assert outcome is not None
    cats = load_catalog(data["catalog"]).codebook.categories
    matrix = outcome.table.loc["polar"]
    assert matrix.shape == (len(cats) + 2, len(cats) + 1)
    assert not matrix.isna().any().any() and ((matrix >= 0) & (matrix <= 100)).all().all()
    assert (out / "figure.png").stat().st_size > 0
    # 2 test people x 2 setups x 3 probes per category are scored in each cell
    assert set(np.round(matrix.iloc[:, :-1].to_numpy() * 12 / 100, 6).ravel()) <= set(range(13))
    # the rows really change what the reasoner sees: not every row scores the same
    assert matrix["(all probes)"].nunique() > 1
    again = main(args + [x for k, v in sets for x in (f"--{k}", v)])
    assert again.ran == [] and len(again.skipped) == len(cats) + 2
