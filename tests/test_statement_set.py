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
