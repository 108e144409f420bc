"""IndieValueReasoner on hand-built batches: packed == unpacked, learning, LoRA/QLoRA, export, schedule."""

import pytest
import torch

from ivr.model.module import IndieValueReasoner
from ivr.model.optim import lr_lambda
from ivr.model.predictions import flatten_probes

TINY = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
}
VOCAB = 40


def reasoner(**kw) -> IndieValueReasoner:
    torch.manual_seed(0)
    m = IndieValueReasoner(model_config=dict(TINY), vocab_size=VOCAB, **kw)
    m.configure_model()
    return m


def batch_one_probe_each() -> dict:
    """Two sequences sharing the prefix [1, 5, 6]; probe tokens 20 / 21 at position 3."""
    ids = torch.tensor([[1, 5, 6, 20], [1, 5, 6, 21]])
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "position_ids": torch.arange(4).expand(2, 4),
        "answer_positions": torch.tensor([[3], [3]]),
        "option_token_ids": torch.tensor([[[10, 11, -1]], [[12, 13, 14]]]),
        "labels": torch.tensor([[1], [2]]),
    }


def batch_packed() -> dict:
    """The same two probes packed into one sequence: both probe tokens see the prefix and themselves."""
    mask = torch.ones(5, 5, dtype=torch.bool).tril()
    mask[4, 3] = False
    return {
        "input_ids": torch.tensor([[1, 5, 6, 20, 21]]),
        "attention_mask": mask.view(1, 1, 5, 5),
        "position_ids": torch.tensor([[0, 1, 2, 3, 3]]),
        "answer_positions": torch.tensor([[3, 4]]),
        "option_token_ids": torch.tensor([[[10, 11, -1], [12, 13, 14]]]),
        "labels": torch.tensor([[1, 2]]),
    }


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_block_mask_equals_separate_sequences(attn):
    m = reasoner()
    m.model.config._attn_implementation = attn
    with torch.no_grad():
        sep = m(batch_one_probe_each()).scores
        packed = m(batch_packed()).scores
    assert torch.allclose(sep[:, 0], packed[0], atol=1e-5)


def test_a_few_steps_fit_a_fixed_batch():
    m = reasoner()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    b = batch_packed()
    first = m(b).loss.item()
    for _ in range(20):
        opt.zero_grad()
        m(b).loss.backward()
        opt.step()
    out = m(b)
    assert out.loss.item() < 0.2 * first
    assert out.pred.tolist() == [[1, 2]]


def test_flatten_maps_shuffled_options_back_to_codebook_order():
    m = reasoner()
    b = batch_packed()
    b["option_index"] = torch.tensor([[[1, 0, -1], [2, 0, 1]]])  # presented -> codebook option
    b["meta"] = {k: torch.tensor([[7, 7]]) for k in ("person", "setup", "form", "question")}
    with torch.no_grad():
        out = m(b)
        flat = flatten_probes(b, out)
    assert flat["target"].tolist() == [0, 1]  # presented labels 1, 2 -> codebook 0, 1
    assert flat["pred"].tolist() == [b["option_index"][0, k, out.pred[0, k]].item() for k in range(2)]
    assert torch.allclose(flat["probs"][0, 1], out.probs[0, 0, 0])
    assert torch.allclose(flat["probs"][0, 0], out.probs[0, 0, 1])  # not overwritten by the padded option
    assert torch.allclose(flat["probs"][:, :2].sum(-1)[0], torch.tensor(1.0))
    assert flat["probs"].shape == (2, 3) and torch.isnan(flat["probs"][0, 2:]).all()  # the batch's widest question


def test_schedule_warmup_then_linear_decay():
    f = lr_lambda(warmup_steps=4, total_steps=20, schedule="linear")
    assert [round(f(s), 3) for s in (0, 3, 4, 12, 20)] == [0.25, 1.0, 1.0, 0.5, 0.0]
    assert lr_lambda(2, 20, "constant")(15) == 1.0


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="model.score"):
        IndieValueReasoner(model_config=TINY, score="nope")
    with pytest.raises(ValueError, match="exactly one"):
        IndieValueReasoner(vocab_size=VOCAB).configure_model()


def test_lora_adapter_saves_and_reloads_to_identical_logits(tmp_path):
    from peft import PeftModel

    m = reasoner(lora=True, lora_r=4)
    trainable = [n for n, p in m.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():  # make the adapter non-trivial (B starts at zero)
        for n, p in m.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    m.model.save_pretrained(tmp_path / "adapter")
    fresh = reasoner().model
    reloaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    m.eval()
    ids = torch.tensor([[1, 5, 6, 20, 21]])
    with torch.no_grad():
        assert torch.equal(m.model(input_ids=ids).logits, reloaded(input_ids=ids).logits)


def test_export_merged_lora_loads_in_transformers(tmp_path):
    from transformers import AutoModelForCausalLM

    from ivr.model.export import export_hf

    m = reasoner(lora=True, lora_r=4)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    torch.save({"state_dict": m.state_dict(), "hyper_parameters": dict(m.hparams)}, tmp_path / "x.ckpt")
    out = export_hf(tmp_path / "x.ckpt", tmp_path / "hf", merge=True)
    hf = AutoModelForCausalLM.from_pretrained(out, trust_remote_code=False).eval()
    m.eval()
    ids = torch.tensor([[1, 5, 6, 20, 21]])
    with torch.no_grad():
        assert torch.allclose(hf(input_ids=ids).logits, m.model(input_ids=ids).logits, atol=1e-5)
    adapter = export_hf(tmp_path / "x.ckpt", tmp_path / "adapter", merge=False)
    assert (adapter / "adapter_config.json").is_file()


def test_qlora_trains_a_step():
    # the one capability this may lack is the optional package (the quant / dev extras); any error in 4-bit
    # loading or training with it installed is a failure, not a skip
    pytest.importorskip(
        "bitsandbytes",
        reason="bitsandbytes is not installed (pip install -c constraints.txt 'ivr[quant]'): QLoRA is not tested",
    )
    m = reasoner(qlora=True, lora_r=4)
    assert any("Linear4bit" in type(mod).__name__ for mod in m.model.modules())
    lora = {n: p.detach().clone() for n, p in m.named_parameters() if p.requires_grad}
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-2)
    loss = m(batch_packed()).loss
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    changed = [n for n, p in m.named_parameters() if p.requires_grad and not torch.equal(p, lora[n])]
    assert changed and all("lora_" in n for n in changed)


def test_option_row_scores_equal_full_vocabulary_logits(monkeypatch):
    m = reasoner()
    b = batch_packed()
    with torch.no_grad():
        fast = m(b).scores
        monkeypatch.setattr(m, "_uses_plain_head", lambda: False)  # the generic full-logits path
        full = m(b).scores
        logits = m.model(
            input_ids=b["input_ids"],
            attention_mask=m._attention_mask(b["attention_mask"]),
            position_ids=b["position_ids"],
        ).logits
    assert torch.allclose(fast, full, atol=1e-5)
    assert torch.allclose(fast[0, 1], logits[0, 4, [12, 13, 14]], atol=1e-5)


def test_loglik_score_mode_reads_option_spans():
    m = reasoner(score="loglik_sum")
    ids = torch.tensor([[1, 5, 6, 10, 11, 12, 13]])
    b = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "position_ids": torch.arange(7)[None],
        "answer_positions": torch.tensor([[2]]),
        "option_token_ids": torch.tensor([[[10, 12]]]),
        "option_spans": torch.tensor([[[[3, 5], [5, 7]]]]),
        "labels": torch.tensor([[0]]),
    }
    with torch.no_grad():
        out = m(b)
        lp = torch.log_softmax(m.model(input_ids=ids).logits, -1)[0]
    assert torch.allclose(out.scores[0, 0, 0], lp[2, 10] + lp[3, 11], atol=1e-5)
    # each option's first token is read at the probe's answer position, the rest in its own span
    assert torch.allclose(out.scores[0, 0, 1], lp[2, 12] + lp[5, 13], atol=1e-5)
    with pytest.raises(ValueError, match="option_spans"):
        reasoner(score="loglik_mean")({k: v for k, v in b.items() if k != "option_spans"})
