"""The tiny default actually learns: a smaller, faster run beats Global majority on the same eval people."""

import lightning as L
import numpy as np
import torch

from baselines.majority import pool_majority
from ivr.catalog.synth import build_synthetic
from ivr.data.datamodule import IVRDataModule
from ivr.metrics import Predictions, evaluate_predictions
from ivr.model.module import IndieValueReasoner

MODEL = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 512,
    "tie_word_embeddings": False,
}
STEPS = 160
EVAL_PEOPLE = 40


def global_majority(dm: IVRDataModule, rows: np.ndarray) -> Predictions:
    """Global-majority predictions for ``rows`` on every (setup, form) probe, training pool = dm's."""
    parts = []
    train = np.asarray(dm.split.train_rows)
    for f, form in enumerate(("polar", "refined")):
        for s, probes in enumerate(dm.setups):
            maj = pool_majority(dm.catalog, train, form, probes)
            target = dm.catalog.answers(form)[np.ix_(rows, probes)]
            n, k = target.shape
            parts.append(
                Predictions(
                    np.repeat(rows, k),
                    np.full(n * k, s),
                    np.full(n * k, f),
                    np.tile(probes, n),
                    np.tile(maj, n),
                    target.reshape(-1),
                )
            )
    return Predictions.concat(parts)


def test_tiny_model_beats_global_majority(tmp_path):
    torch.manual_seed(0)
    catalog = build_synthetic(tmp_path / "catalog", n_people=3000, seed=0)
    dm = IVRDataModule(
        catalog=str(catalog),
        tokenizer="statement",
        n_per_question=12,
        demo_count="mixed",
        probe_form="p+r",
        probes_per_sequence=-1,
        max_seq_length=512,
        split_size=100,
        limit_eval_people=EVAL_PEOPLE,
        batch_size=16,
        eval_batch_size=32,
        cache_dir=str(tmp_path / "cache"),
        seed=0,
    )
    model = IndieValueReasoner(model_config=MODEL, vocab_size=len(dm.load_tokenizer()), lr=2e-3, warmup_ratio=0.03)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=STEPS,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        use_distributed_sampler=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    trainer.test(model, datamodule=dm, verbose=False)
    ours = evaluate_predictions(model.test_predictions, dm.catalog, bootstrap=0).table3_row()
    rows = np.unique(model.test_predictions.person)
    assert len(rows) == EVAL_PEOPLE
    majority = evaluate_predictions(global_majority(dm, rows), dm.catalog, bootstrap=0).table3_row()
    print(f"tiny learning run: all {ours['all']:.2f} vs Global majority {majority['all']:.2f}")
    assert ours["all"] > majority["all"] + 1.0, (ours, majority)
