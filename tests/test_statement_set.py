"""The order-free statement reasoner (``model_type: ivr_statement_set``): pooling, masks, config checks."""

from __future__ import annotations

import pytest
import torch

from ivr.errors import ConfigError
from ivr.model.build import build_causal_lm
from ivr.model.statement_set import MODEL_TYPE, check_statement_set, visibility

CONFIG = {"model_type": MODEL_TYPE, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2}


def test_builds_from_model_config_and_the_demonstration_order_does_not_matter():
    torch.manual_seed(0)
    model = build_causal_lm(None, CONFIG, vocab_size=30).eval()
    ids = torch.tensor([[2, 5, 9, 11, 20]])
    shuffled = torch.tensor([[2, 11, 5, 9, 20]])  # the same demonstrations before the probe token 20
    a = model(ids, torch.ones_like(ids)).logits[0, -1]
    b = model(shuffled, torch.ones_like(ids)).logits[0, -1]
    torch.testing.assert_close(a, b)
    c = model(torch.tensor([[2, 5, 9, 12, 20]]), torch.ones_like(ids)).logits[0, -1]
    assert not torch.allclose(a, c)  # another statement changes the prediction


def test_block_mask_padding_and_additive_masks_agree():
    ids = torch.tensor([[1, 2, 3, 0]])
    pad = torch.tensor([[1, 1, 1, 0]])
    seen = visibility(pad, ids)[0]
    assert seen[2].tolist() == [1, 1, 1, 0] and seen[0].tolist() == [1, 0, 0, 0]
    block = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    block[0, 0, :, 0] = True  # every position sees the prefix token 0 and itself
    block[0, 0, torch.arange(4), torch.arange(4)] = True
    additive = torch.where(block, 0.0, torch.finfo(torch.float32).min)
    torch.testing.assert_close(visibility(block, ids), visibility(additive, ids))
    assert visibility(block, ids)[0, 3].tolist() == [1, 0, 0, 1]  # a branch does not see its siblings


def test_config_errors_name_the_flag():
    check_statement_set({"model_type": "llama"}, "loglik_sum", "gpt2")  # other models are not its business
    with pytest.raises(ConfigError, match="model.score: choice"):
        check_statement_set(CONFIG, "loglik_sum", "statement")
    with pytest.raises(ConfigError, match="data.tokenizer: statement"):
        check_statement_set(CONFIG, "choice", "some/folder")


def _packed(prefix: list[int], branches: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """One packed sequence: a prefix, then one single-token branch per probe (block mask)."""
    ids = torch.tensor([prefix + branches])
    n, p = ids.shape[1], len(prefix)
    mask = torch.zeros(1, 1, n, n, dtype=torch.bool)
    mask[0, 0, :p, :p] = torch.ones(p, p, dtype=torch.bool).tril()
    mask[0, 0, p:, :p] = True
    mask[0, 0, torch.arange(p, n), torch.arange(p, n)] = True
    return ids, mask


def test_kept_positions_and_shared_pools_equal_the_full_computation():
    """Scoring only the answer positions (and one MLP pass per distinct pool) gives the logits, and the
    gradients, of computing every position; excluded question tokens make a sequence's probes share a pool."""
    torch.manual_seed(0)
    model = build_causal_lm(None, CONFIG, vocab_size=30)
    ids, mask = _packed([2, 5, 9, 11], [20, 21, 22])
    ids = torch.cat([ids, torch.tensor([[2, 6, 7, 8, 23, 24, 25]])])  # a second person, same layout
    mask = mask.expand(2, -1, -1, -1)
    keep = torch.tensor([4, 5, 6])
    for excluded in ([], [20, 21, 22, 23, 24, 25]):
        model.exclude_from_pool(excluded)
        full = model(ids, mask, logits_to_keep=0).logits
        kept = model(ids, mask, logits_to_keep=keep).logits
        torch.testing.assert_close(kept, full[:, keep])
        g_kept = torch.autograd.grad(kept.square().sum(), model.embed_tokens.weight)[0]
        g_full = torch.autograd.grad(model(ids, mask).logits[:, keep].square().sum(), model.embed_tokens.weight)[0]
        torch.testing.assert_close(g_kept, g_full)
        same = torch.allclose(kept[0, 0], kept[0, 1])
        assert same == bool(excluded)  # pooled question tokens make each probe's pool its own
    assert float(model.pool_weight[20]) == 0.0 and float(model.pool_weight[5]) == 1.0


def test_fit_pools_statements_only_and_checkpoint_keeps_it(tmp_path):
    """The reasoner built for a fit on the statement tokenizer stops pooling exactly its question tokens."""
    from lightning.pytorch import Trainer

    from ivr.data.fixtures import tiny_datamodule
    from ivr.data.statement_tokenizer import question_token_ids
    from ivr.model.module import IndieValueReasoner

    dm = tiny_datamodule(tmp_path, people=300)
    module = IndieValueReasoner(
        model_config=CONFIG, vocab_size=len(dm.load_tokenizer()), score="choice", embedding_init="random"
    )
    trainer = Trainer(
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=dm)
    excluded = set(torch.nonzero(module.model.pool_weight == 0).flatten().tolist())
    assert excluded == set(question_token_ids(dm.tokenizer, dm.codebook)) and len(excluded) == 2 * 253
    assert "model.pool_weight" in module.state_dict()


def test_members_train_on_their_own_sequences_and_average_at_evaluation():
    """``num_members``: in training sequence i is scored by member i % members alone; at evaluation the scores
    are the members' mean -- each member being the single-member model with its own columns of the weights."""
    torch.manual_seed(0)
    members = 3
    model = build_causal_lm(None, {**CONFIG, "num_members": members}, vocab_size=30)
    hidden, inter = CONFIG["hidden_size"], CONFIG["intermediate_size"]
    singles = []
    for k in range(members):
        one = build_causal_lm(None, CONFIG, vocab_size=30)
        one.embed_tokens.weight.data.copy_(model.embed_tokens.weight[:, k * hidden : (k + 1) * hidden])
        one.mlp.load_state_dict(model.mlp[k].state_dict())
        one.lm_head.weight.data.copy_(model.lm_head.weight[:, k * inter : (k + 1) * inter])
        one.lm_head.bias.data.copy_(model.lm_head.bias)
        singles.append(one.eval())
    ids = torch.tensor([[2, 5, 9, 11, 20], [3, 6, 8, 12, 21], [2, 7, 9, 13, 22], [4, 5, 10, 11, 23]])
    mask, pos = torch.ones_like(ids), torch.tensor([[4], [4], [4], [4]])
    own = [s(ids, mask, answer_positions=pos).logits for s in singles]  # [B, 1, V] each
    trained = model.train()(ids, mask, answer_positions=pos).logits
    for i in range(len(ids)):
        torch.testing.assert_close(trained[i], own[i % members][i])
    averaged = model.eval()(ids, mask, answer_positions=pos).logits
    torch.testing.assert_close(averaged, torch.stack(own).mean(0))
