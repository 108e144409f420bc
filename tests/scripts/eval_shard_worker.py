"""Evaluate a fixed tiny reasoner on the test people, on 1 process (``python``) or several (``torchrun``).

Each rank writes the (person, setup) of every real sequence it scored and its batch count to
``OUT/rank<r>.npz``; rank 0 writes the synced predictions and results. Used by tests/test_eval_sharding.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import lightning as L
import numpy as np

from ivr.cli import close_process_group
from ivr.data.fixtures import tiny_datamodule
from ivr.model.module import IndieValueReasoner
from ivr.model.strategy import choose_strategy

MODEL = {
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
}


class Record(L.Callback):
    def __init__(self) -> None:
        self.items: list[tuple[int, int]] = []
        self.batches = 0

    def on_test_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.batches += 1
        real = batch["answer_positions"][:, 0] >= 0
        for person, setup in zip(batch["meta"]["person"][real, 0].tolist(), batch["meta"]["setup"][real, 0].tolist()):
            self.items.append((person, setup))


def main(out: Path, work: Path) -> None:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    L.seed_everything(0)
    dm = tiny_datamodule(
        work, people=300, limit_eval_people=5, eval_pack_forms=True, eval_forms="polar", eval_batch_size=4
    )
    module = IndieValueReasoner(model_config=MODEL, vocab_size=len(dm.load_tokenizer()))
    record = Record()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=world,
        strategy=choose_strategy("auto", world, 1, "cpu"),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        use_distributed_sampler=False,
        callbacks=[record],
    )
    trainer.test(module, datamodule=dm)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"rank{trainer.global_rank}.npz", items=np.asarray(record.items, np.int64), batches=record.batches)
    if trainer.is_global_zero:
        module.test_predictions.save(out / "predictions.npz")
        results = {k: float(v) for k, v in module.test_results.items() if np.ndim(v) == 0}
        (out / "results.json").write_text(json.dumps(results))
    close_process_group()  # as every ivr command does: no rank exits with a live gloo group


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
