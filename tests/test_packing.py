"""Multi-probe packing with a tiny Llama: isolation between probes and packed == unpacked scores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ivr.data.collate import Collator
from ivr.data.fixtures import random_catalog
from ivr.data.packing import block_mask, model_attention_mask, sequences
from ivr.data.prompts import load_layout
from ivr.data.statement_tokenizer import make_statement_tokenizer
from ivr.data.tokenization import TokenCache, train_bpe_tokenizer
from ivr.protocol.examples import PersonTable, Recipe, eval_example
from ivr.protocol.probes import probe_setups


@pytest.fixture(scope="module")
def table() -> PersonTable:
    return PersonTable(random_catalog(12, seed=5))


@pytest.fixture(scope="module")
def cache(table: PersonTable) -> TokenCache:
    return TokenCache(make_statement_tokenizer(table.codebook), table.codebook, load_layout("statement"))


def _model(vocab: int, impl: str) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
    )
    cfg._attn_implementation = impl
    return LlamaForCausalLM(cfg).eval()


def _scores(model: LlamaForCausalLM, batch: dict) -> torch.Tensor:
    """[B,K,O] option logits at the answer positions (nan where padded)."""
    with torch.no_grad():
        logits = model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            attention_mask=model_attention_mask(batch["attention_mask"]),
        ).logits
    pos, ids = batch["answer_positions"].clamp(min=0), batch["option_token_ids"]
    at = logits[torch.arange(len(pos))[:, None], pos]  # [B,K,V]
    out = at.gather(-1, ids.clamp(min=0))
    return out.masked_fill(ids < 0, float("nan"))


def _packed_vs_unpacked(model, built, ex) -> tuple[torch.Tensor, torch.Tensor]:
    pad = 0
    packed = Collator(pad, packed=True)(sequences(built, ex, packed=True))
    single = Collator(pad, packed=False)(sequences(built, ex, packed=False))
    return _scores(model, packed)[0], _scores(model, single)[:, 0]


@pytest.mark.parametrize("impl, form", [("sdpa", -1), ("eager", 1)])
def test_packed_scores_equal_unpacked(table: PersonTable, cache: TokenCache, impl: str, form: int) -> None:
    setups = probe_setups(table.codebook)
    ex = eval_example(table, Recipe(demographics="with"), 0, row=2, setup=0, setup_probes=setups[0], form=form)
    built = cache.build(ex)
    model = _model(len(cache.tokenizer), impl)
    packed, single = _packed_vs_unpacked(model, built, ex)
    assert packed.shape == (39 * (2 if form == -1 else 1), 5)
    torch.testing.assert_close(packed, single, atol=1e-5, rtol=0, equal_nan=True)


def test_changing_one_probe_leaves_the_others_unchanged(table: PersonTable, cache: TokenCache) -> None:
    setups = probe_setups(table.codebook)
    ex = eval_example(table, Recipe(), 0, row=4, setup=2, setup_probes=setups[2], form=0)
    model = _model(len(cache.tokenizer), "sdpa")
    batch = Collator(0, packed=True)(sequences(cache.build(ex), ex, packed=True))
    before = _scores(model, batch)[0]
    unused = np.setdiff1d(np.arange(len(table.codebook.questions)), np.concatenate([ex.demo_questions, setups[2]]))
    probes = ex.probe_questions.copy()
    probes[5] = unused[0]
    changed = dataclasses.replace(
        ex,
        probe_questions=probes,
        option_orders=[*ex.option_orders[:5], np.arange(table.n_options[0, unused[0]]), *ex.option_orders[6:]],
    )
    after = _scores(model, Collator(0, packed=True)(sequences(cache.build(changed), changed, packed=True)))[0]
    others = [k for k in range(39) if k != 5]
    torch.testing.assert_close(before[others], after[others], atol=1e-6, rtol=0, equal_nan=True)
    assert not torch.allclose(before[5].nan_to_num(), after[5].nan_to_num())


def test_batched_padding_keeps_scores(table: PersonTable, cache: TokenCache) -> None:
    """Two packed sequences of different lengths in one padded batch score as they do alone."""
    setups = probe_setups(table.codebook)
    model = _model(len(cache.tokenizer), "eager")
    exs = [
        eval_example(table, Recipe(demo_count=d), 0, row=r, setup=1, setup_probes=setups[1], form=0)
        for r, d in ((1, "200"), (3, "60"))
    ]
    seqs = [sequences(cache.build(e), e, packed=True)[0] for e in exs]
    both = _scores(model, Collator(0, packed=True)(seqs))
    assert not torch.isnan(both[:, :, :2]).any()
    for i, s in enumerate(seqs):
        torch.testing.assert_close(
            both[i], _scores(model, Collator(0, packed=True)([s]))[0], atol=1e-5, rtol=0, equal_nan=True
        )


def test_text_layout_packing_with_bpe(table: PersonTable) -> None:
    tok = train_bpe_tokenizer(table.codebook, load_layout("choice"), vocab_size=1500)
    cache = TokenCache(tok, table.codebook, load_layout("choice"))
    setups = probe_setups(table.codebook)
    ex = eval_example(table, Recipe(demo_count="15"), 0, row=0, setup=0, setup_probes=setups[0][:6], form=0)
    packed, single = _packed_vs_unpacked(_model(len(tok), "sdpa"), cache.build(ex), ex)
    torch.testing.assert_close(packed, single, atol=1e-5, rtol=0, equal_nan=True)


def test_block_mask_shape_and_padding_rows() -> None:
    seg = torch.tensor([[0, 0, 1, 1, 2, -1]])
    mask = block_mask(seg)
    assert mask.shape == (1, 1, 6, 6) and mask.dtype == torch.bool
    m = mask[0, 0]
    assert m[3].tolist() == [True, True, True, True, False, False]  # branch 1 sees prefix + itself
    assert m[4].tolist() == [True, True, False, False, True, False]  # branch 2 does not see branch 1
    assert m[5].tolist() == [False] * 5 + [True]  # padding row: itself only (no NaN)
    add = model_attention_mask(mask)
    assert add.dtype == torch.float32 and add[0, 0, 4, 2] == torch.finfo(torch.float32).min and add[0, 0, 4, 4] == 0
    flat = torch.ones(2, 3, dtype=torch.long)
    assert model_attention_mask(flat) is flat


def test_option_sub_branches_see_their_probe_but_not_each_other() -> None:
    # prefix, probe 1 (2 tokens) with options of 2 and 1 tokens, probe 2 (1 token) with one option
    seg = torch.tensor([[0, 1, 1, 1, 1, 1, 2, 2]])
    sub = torch.tensor([[0, 0, 0, 1, 1, 2, 0, 1]])
    m = block_mask(seg, sub)[0, 0]
    assert m[4].tolist() == [True] * 5 + [False] * 3  # option 1: prefix, its probe, itself
    assert m[5].tolist() == [True, True, True, False, False, True, False, False]  # option 2 skips option 1
    assert m[7].tolist() == [True] + [False] * 5 + [True, True]  # probe 2's option: prefix + probe 2


def test_positions_restart_after_prefix(table: PersonTable, cache: TokenCache) -> None:
    setups = probe_setups(table.codebook)
    ex = eval_example(table, Recipe(demo_count="10"), 0, row=1, setup=0, setup_probes=setups[0], form=0)
    seq = sequences(cache.build(ex), ex, packed=True)[0]
    n_prefix = 1 + 10
    assert (seq["position_ids"][:n_prefix] == np.arange(n_prefix)).all()
    assert (seq["position_ids"][n_prefix:] == n_prefix).all()  # one question token per branch
    assert (seq["answer_positions"] == np.arange(n_prefix, n_prefix + 39)).all()
    assert (seq["question"] == setups[0]).all()
