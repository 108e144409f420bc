"""IVRDataModule: recipes, determinism (workers, order, resume), eval enumeration, budgets, bad input, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ivr.data.datamodule import IVRDataModule
from ivr.data.fixtures import random_catalog, tiny_datamodule
from ivr.data.prompts import load_layout
from ivr.data.statement_tokenizer import make_statement_tokenizer
from ivr.data.tokenization import TokenCache, TokenizationError
from ivr.protocol.examples import PersonTable, Recipe, train_example


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dm")


@pytest.fixture(scope="module")
def dm(work: Path) -> IVRDataModule:
    d = tiny_datamodule(work)
    d.setup("fit")
    return d


def _batches(loader, n: int) -> list[dict]:
    out = []
    for i, b in enumerate(loader):
        if i == n:
            break
        out.append(b)
    return out


def _same(a: dict, b: dict) -> bool:
    keys = ("input_ids", "position_ids", "attention_mask", "answer_positions", "option_token_ids", "labels")
    same_meta = all(torch.equal(a["meta"][k], b["meta"][k]) for k in a["meta"])
    return all(torch.equal(a[k], b[k]) for k in keys) and same_meta


def test_batch_format(dm: IVRDataModule) -> None:
    b = next(iter(dm.train_dataloader()))
    B, T = b["input_ids"].shape
    assert B == 4 and b["attention_mask"].shape == (B, 1, T, T) and b["attention_mask"].dtype == torch.bool
    assert b["answer_positions"].shape == (B, 8) and b["option_token_ids"].shape[:2] == (B, 8)
    assert (b["meta"]["setup"] == -1).all() and set(b["meta"]) == {"person", "setup", "form", "question"}
    valid = b["labels"] >= 0
    n_opt = (b["option_token_ids"] >= 0).sum(-1)
    assert (b["labels"][valid] < n_opt[valid]).all()
    # the answer position holds the probe's question token
    tok = dm.tokenizer.convert_ids_to_tokens(b["input_ids"][0, b["answer_positions"][0, 0]].item())
    assert tok.startswith(dm.codebook.questions[b["meta"]["question"][0, 0].item()].id + "?")


def test_independent_of_num_workers(work: Path, dm: IVRDataModule) -> None:
    two = tiny_datamodule(work, num_workers=2)
    two.setup("fit")
    for a, b in zip(_batches(dm.train_dataloader(), 3), _batches(two.train_dataloader(), 3)):
        assert _same(a, b)
    for a, b in zip(_batches(dm.val_dataloader(), 2), _batches(two.val_dataloader(), 2)):
        assert _same(a, b)


def test_items_are_pure_functions_of_seed_epoch_index(dm: IVRDataModule) -> None:
    ds = dm._train
    forward = [ds[(1, i)]["input_ids"] for i in range(0, 40, 7)]
    backward = [ds[(1, i)]["input_ids"] for i in reversed(range(0, 40, 7))][::-1]
    assert all(np.array_equal(a, b) for a, b in zip(forward, backward))
    assert not np.array_equal(ds[(0, 7)]["input_ids"], ds[(1, 7)]["input_ids"])  # demos redrawn per epoch
    dm.set_epoch(1)
    first_e1 = next(iter(dm.sampler))
    dm.set_epoch(0)
    first_e0 = next(iter(dm.sampler))
    assert first_e1[0] == 1 and first_e0[0] == 0
    assert not np.array_equal(dm.sampler.order(0), dm.sampler.order(1))


def test_resume_mid_epoch(work: Path, dm: IVRDataModule) -> None:
    dm.set_epoch(2)
    full = _batches(dm.train_dataloader(), 5)
    resumed = tiny_datamodule(work)
    resumed.load_state_dict({"epoch": 2, "position": 3 * 4, "seed": 0})
    resumed.setup("fit")
    rest = _batches(resumed.train_dataloader(), 2)
    assert _same(rest[0], full[3]) and _same(rest[1], full[4])
    dm.set_epoch(0)
    with pytest.raises(ValueError, match="seed"):
        tiny_datamodule(work, seed=1).load_state_dict({"epoch": 0, "position": 0, "seed": 0})


def test_training_people_and_counts(dm: IVRDataModule) -> None:
    assert len(dm.people) == 253 and all(len(p) == 4 for p in dm.people)
    train = set(np.asarray(dm.split.train_rows).tolist())
    for q, rows in enumerate(dm.people):
        assert set(rows.tolist()) <= train and dm.table.valid[rows, q].all()
    ex = dm._train.example(0, 9)
    assert ex.probe_questions[0] == dm._train.locate(9)[0]
    assert ex.probe_questions[0] not in ex.demo_questions and not np.isin(ex.probe_questions, ex.demo_questions).any()
    assert len(ex.demo_questions) == 200 and len(ex.probe_questions) == 8


def test_eval_enumeration_and_exclusion(work: Path, dm: IVRDataModule) -> None:
    assert len(dm._val) == 2 * 3 * 2  # people x setups x forms, packed
    for i in range(len(dm._val)):
        ex = dm._val.example(i)
        assert (ex.probe_questions == dm.setups[ex.setup]).all()
        assert not np.isin(ex.demo_questions, dm.setups[ex.setup]).any()  # exclude-setup rule
    a, b = dm._val.example(0), dm._val.example(1)  # same person and setup, both forms: same demos
    assert a.row == b.row and (a.probe_forms[0], b.probe_forms[0]) == (0, 1)
    assert np.array_equal(a.demo_questions, b.demo_questions)
    assert (a.demo_form, b.demo_form) == (0, 1)  # matched: each probe form with demonstrations of its form
    both = tiny_datamodule(work, eval_pack_forms=True, eval_forms="polar")
    both.setup("fit")
    assert len(both._val) == 2 * 3
    ex_both = both._val.example(0)
    assert (ex_both.probe_forms == np.repeat([0, 1], 39)).all() and ex_both.demo_form == 0
    assert np.array_equal(ex_both.demo_questions, a.demo_questions)
    assert np.array_equal(ex_both.labels, np.concatenate([a.labels, b.labels]))
    one = tiny_datamodule(work, eval_packed=False)
    one.setup("fit")
    assert len(one._test) == 2 * 3 * 2 * 39
    ex = one._test.example(5)
    assert len(ex.probe_questions) == 1 and not np.isin(ex.demo_questions, dm.setups[ex.setup]).any()
    b = next(iter(one.test_dataloader()))
    assert b["attention_mask"].dtype == torch.long and b["attention_mask"].dim() == 2


def test_recipes(work: Path) -> None:
    mixed = tiny_datamodule(work, demo_count="mixed", probes_per_sequence=1, demographics="only")
    mixed.setup("fit")
    ex = mixed._train.example(0, 3)
    assert len(ex.demo_questions) == 0 and len(ex.demographics) > 0
    table = mixed.table
    r = Recipe(demo_count="mixed+200")  # without a unit, a unit is drawn per example (the data set assigns them)
    ds = [train_example(table, r, 0, e, 0, int(mixed.people[0][0])).demos_requested for e in range(30)]
    assert 200 in ds and any(50 <= d < 200 for d in ds) and all(50 <= d <= 200 for d in ds)
    refined = tiny_datamodule(work, probe_form="r", demo_form="refined")
    refined.setup("fit")
    b = next(iter(refined.train_dataloader()))
    assert (b["meta"]["form"][b["labels"] >= 0] == 1).all()


def test_train_filter(work: Path, dm: IVRDataModule) -> None:
    continent = dm.catalog.demographic_values("B_COUNTRY_to_continent")
    value = continent[dm.split.train_rows[0]]
    f = tiny_datamodule(work, train_filter=f"continent={value}")
    f.setup("fit")
    rows = np.concatenate(f.people)
    assert (continent[rows] == value).all()
    with pytest.raises(ValueError, match="train_filter clause 'planet=Mars'"):
        g = tiny_datamodule(work, train_filter="planet=Mars")
        g.setup("fit")


def test_max_seq_length_drops_whole_statements(work: Path, dm: IVRDataModule) -> None:
    short = tiny_datamodule(work, max_seq_length=120)
    short.setup("fit")
    b = next(iter(short.train_dataloader()))
    assert b["input_ids"].shape[1] <= 120
    assert (b["demos_dropped"] > 0).all() and (b["n_demos"] + b["demos_dropped"] == 200).all()
    item = short._train[(0, 0)]
    assert len(item["input_ids"]) == 120  # one token per statement: fills the budget exactly
    # text layout: the kept prefix is whole lines (each ends where a "\n# " line begins)
    cat = random_catalog(10, seed=1, codebook=dm.codebook)
    table = PersonTable(cat)
    from ivr.data.tokenization import train_bpe_tokenizer

    tok = train_bpe_tokenizer(cat.codebook, load_layout("choice"), vocab_size=1500)
    cache = TokenCache(tok, cat.codebook, load_layout("choice"))
    ex = train_example(table, Recipe(demo_count="50"), 0, 0, 0, 0)
    full = cache.build(ex)
    budget = len(full.prefix) + len(full.branches[0]) - 30
    cut = cache.build(ex, max_len=budget)
    assert cut.n_dropped >= 1 and cut.n_demos == 50 - cut.n_dropped
    assert len(cut.prefix) + len(cut.branches[0]) <= budget
    assert cut.ids(0) == cache.encode(cache.render_text(ex, 0, n_known=cut.n_demos))
    with pytest.raises(TokenizationError, match="max_seq_length=5 is too small"):
        cache.build(ex, max_len=5)


def test_more_demos_than_valid_answers_takes_all(dm: IVRDataModule) -> None:
    cat = random_catalog(6, seed=2, codebook=dm.codebook)
    cat.refined[0, 30:] = -1
    cat.polar[0, 30:] = -1
    table = PersonTable(cat)
    ex = train_example(table, Recipe(demo_count="200", probes_per_sequence=3), 0, 0, 1, 0)
    assert ex.demos_requested == 200 and len(ex.demo_questions) == 29 and len(ex.probe_questions) == 1
    cache = TokenCache(make_statement_tokenizer(cat.codebook), cat.codebook, load_layout("statement"))
    assert cache.build(ex).n_demos == 29


@pytest.mark.parametrize(
    "kwargs, flag",
    [
        ({"probe_form": "x"}, "probe_form='x'"),
        ({"demographics": "some"}, "demographics='some'"),
        ({"demo_form": "both"}, "demo_form='both'"),
        ({"demo_count": "lots"}, "demo_count='lots'"),
        ({"option_order": "random"}, "option_order='random'"),
        ({"n_per_question": "many"}, "n_per_question='many'"),
        ({"probes_per_sequence": 0}, "probes_per_sequence=0"),
    ],
)
def test_bad_recipe_flags(work: Path, kwargs: dict, flag: str) -> None:
    with pytest.raises(ValueError) as err:
        tiny_datamodule(work, **kwargs)
    assert flag in str(err.value)


def test_export_jsonl(work: Path, dm: IVRDataModule) -> None:
    from ivr.data.__main__ import main

    cfg = work / "data.yaml"
    cfg.write_text(
        f"data:\n  init_args:\n    catalog: {dm.hparams.catalog}\n    n_per_question: 2\n"
        f"    split_size: 20\n    cache_dir: {work / 'cache'}\n    probes_per_sequence: 3\n"
    )
    out = work / "out" / "train.jsonl"
    assert main(["export", "--config", str(cfg), "--out", str(out), "--limit", "4"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert 4 <= len(lines) <= 12
    user, answer = lines[0]["messages"][0], lines[0]["messages"][1]
    assert user["role"] == "user" and answer["role"] == "assistant" and answer["content"].startswith("Option ")
    k = int(answer["content"].split(":")[0].split()[1])
    assert f"\n{answer['content']}" in user["content"] and k >= 1
    assert user["content"].count("\n# ") == 200
    assert not list(out.parent.glob(".*"))  # no temp file left behind


def test_lightning_fit_resumes_mid_epoch_on_the_same_examples(work: Path) -> None:
    """A fit killed mid-epoch and resumed from its checkpoint sees exactly the rest of the uninterrupted run."""
    import lightning as L

    class Recorder(L.LightningModule):
        def __init__(self, stop_at: int | None = None, ckpt: Path | None = None) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seen: list[tuple] = []
            self.stop_at, self.ckpt = stop_at, ckpt

        def training_step(self, batch: dict, i: int) -> torch.Tensor:
            self.seen.append(
                (
                    self.current_epoch,
                    tuple(batch["meta"]["question"][:, 0].tolist()),
                    tuple(batch["meta"]["person"][:, 0].tolist()),
                )
            )
            if self.stop_at is not None and len(self.seen) == self.stop_at:
                self.trainer.save_checkpoint(self.ckpt)
                self.trainer.should_stop = True
            return self.w.sum() * 0.0

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def fit(model: Recorder, ckpt: Path | None = None) -> None:
        trainer = L.Trainer(
            accelerator="cpu",
            max_epochs=2,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            use_distributed_sampler=False,
            limit_val_batches=0,
            num_sanity_val_steps=0,
        )
        trainer.fit(
            model, tiny_datamodule(work, n_per_question=1, probes_per_sequence=1, batch_size=32), ckpt_path=ckpt
        )

    full, part, rest = Recorder(), Recorder(stop_at=11, ckpt=work / "mid.ckpt"), Recorder()
    fit(full)
    fit(part)
    fit(rest, work / "mid.ckpt")
    assert len(full.seen) == 2 * 8 and full.seen[:8] != full.seen[8:]
    # the checkpoint was written inside step 11 (epoch 1, batch 2): that batch is redone
    assert part.seen[:10] + rest.seen == full.seen
