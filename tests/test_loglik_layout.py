"""``score_layout="loglik"``: one branch per (probe, option) with ``option_spans``, scored by ``loglik_sum``."""

import pytest
import torch

from ivr.data.datamodule import IVRDataModule, tiny_datamodule
from ivr.data.prompts import load_layout
from ivr.data.tokenization import train_bpe_tokenizer
from ivr.model.module import IndieValueReasoner


def test_loglik_sum_equals_summed_continuation_logprobs_of_an_unpacked_sequence(tmp_path):
    base = tiny_datamodule(tmp_path)
    base.setup("fit")
    tok_dir = tmp_path / "bpe"
    train_bpe_tokenizer(base.codebook, load_layout("choice"), out_dir=tok_dir, vocab_size=1200)
    dm = tiny_datamodule(tmp_path, tokenizer=str(tok_dir), layout="choice", score_layout="loglik",
                         eval_packed=False, eval_demo_count="5", limit_eval_people=1, eval_batch_size=2)
    dm.setup("fit")
    batch = next(iter(dm.test_dataloader()))
    assert batch["option_spans"].shape[:3] == batch["option_token_ids"].shape
    assert batch["attention_mask"].dtype == torch.bool  # option branches share the prefix only

    torch.manual_seed(0)
    model = IndieValueReasoner(model_config={"model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
                                             "num_hidden_layers": 2, "num_attention_heads": 4,
                                             "num_key_value_heads": 4, "max_position_embeddings": 1024},
                               vocab_size=len(dm.tokenizer), score="loglik_sum")
    model.configure_model()  # builds the causal LM (Lightning calls it in fit/test)
    model.eval()
    with torch.no_grad():
        scores = model(batch).scores                                     # [B, K, O]
        # by hand: probe 0 of sequence 1 alone, prefix + its branch + option o's label token
        ex = dm._test.example(1)
        built = dm.cache.build(ex, dm.hparams.max_seq_length)
        n_opt = len(built.option_ids[0])
        assert n_opt >= 2 and torch.isinf(scores[1, 0, n_opt:]).all()
        for o, label in enumerate(built.option_ids[0]):
            ids = torch.tensor([built.ids(0) + [label]])
            logp = torch.log_softmax(model.model(input_ids=ids).logits[0, -2], -1)[label]
            # heads.loglik_scores differences a float32 cumsum over the whole sequence: ~1e-4 rounding
            torch.testing.assert_close(scores[1, 0, o], logp, atol=1e-3, rtol=0)


def test_unknown_score_layout_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="score_layout='x'"):
        IVRDataModule(catalog=str(tmp_path), score_layout="x")


def test_packed_training_spans_hold_the_option_tokens(tmp_path):
    dm = tiny_datamodule(tmp_path, score_layout="loglik")  # statement tokenizer, 8 probes per sequence
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    spans, opts = batch["option_spans"], batch["option_token_ids"]
    real = opts >= 0
    assert ((spans[..., 1] - spans[..., 0])[real] == 1).all() and (spans[~real] == -1).all()
    b = torch.arange(len(spans))[:, None, None].expand_as(opts)
    assert (batch["input_ids"][b[real], spans[..., 0][real]] == opts[real]).all()
    # each option token sits right after its probe's answer position in its own branch
    pos = batch["position_ids"][b[real], spans[..., 0][real]]
    ans = batch["answer_positions"][..., None].expand_as(opts)[real]
    assert (pos == batch["position_ids"][b[real], ans] + 1).all()
