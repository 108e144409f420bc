"""Full-option log-likelihood (``score_layout: option_text``): one pass per prefix scores every option's whole
answer, and equals running each option in its own plain sequence through the Hugging Face model."""

import pytest
import torch

from ivr.cli import run
from ivr.data.collate import Collator
from ivr.data.datamodule import IVRDataModule
from ivr.data.fixtures import tiny_datamodule
from ivr.data.prompts import load_layout
from ivr.data.tokenization import train_bpe_tokenizer
from ivr.errors import ConfigError
from ivr.model.loglik import LOGLIK_MODES, check_score_layout
from ivr.model.module import IndieValueReasoner

TINY_LLAMA = {
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
}


@pytest.fixture(params=["llama3", "gpt2-bpe"])
def setting(request, tmp_path, tiny_llama31_dir):
    """(data module, reasoner): the tiny Llama-3.1 folder with its real Llama-3 tokenizer, or a random tiny
    Llama on an offline GPT-2-style byte-level BPE tokenizer."""
    if request.param == "llama3":
        tok, model = str(tiny_llama31_dir), {"model_name_or_path": str(tiny_llama31_dir)}
    else:
        base = tiny_datamodule(tmp_path)
        base.setup_people()
        train_bpe_tokenizer(base.codebook, load_layout("choice"), out_dir=tmp_path / "bpe", vocab_size=1200)
        tok, model = str(tmp_path / "bpe"), {"model_config": TINY_LLAMA}
    # training sequences: 8 probes of a person after 4 demonstrations, options in a seeded shuffled order
    dm = tiny_datamodule(
        tmp_path, tokenizer=tok, layout="choice", score_layout="option_text", demo_count="4", option_order="shuffle"
    )
    dm.setup("fit")
    torch.manual_seed(0)
    m = IndieValueReasoner(**model, vocab_size=len(dm.tokenizer), score="loglik_sum")
    m.configure_model()
    return dm, m.eval()


def test_shared_prefix_scores_equal_one_plain_sequence_per_option(setting):
    dm, m = setting
    batch = Collator(dm._pad_id(), packed=True)([dm._train[(0, i)] for i in range(2)])
    assert batch["prefix_lengths"][0] != batch["prefix_lengths"][1]  # the cached path pads prefixes and windows
    assert (
        batch["attention_mask"].dtype == torch.bool
        and batch["option_spans"].shape[:3] == batch["option_token_ids"].shape
    )
    scores = {}
    with torch.no_grad():
        for mode in LOGLIK_MODES:
            m.hparams.score = mode
            scores[mode] = m(batch).scores  # evaluation: each prefix once into a KV cache, branches on top
    tree = m(batch).scores.detach()  # with grad (training): one pass of the whole tree under the block mask
    torch.testing.assert_close(tree, scores["loglik_char"], atol=2e-5, rtol=1e-5)
    layout, n_checked, differ = dm.cache.layout, 0, False
    for b in range(2):
        ex = dm._train.example(0, b)
        built = dm.cache.build(ex, dm.hparams.max_seq_length, continuations=True)
        for k in range(0, len(built.branches), 2):  # a spread of the packed probes
            n_opt = len(built.option_conts[k])
            assert torch.isinf(scores["loglik_sum"][b, k, n_opt:]).all()
            lengths = []
            for o, cont in enumerate(built.option_conts[k]):
                # the continuation is the rendered answer: prompt + response, tokenized as one text
                statement = dm.cache.statement_text(
                    int(ex.probe_forms[k]), int(ex.probe_questions[k]), int(ex.option_orders[k][o])
                )
                answer = layout.response_text(o + 1, statement)
                text = dm.cache.render_text(ex, k, built.n_demos) + answer[len(layout.answer_prefix) :]
                assert built.ids(k) + cont == dm.cache.encode(text, leading=True)
                assert built.option_chars[k][o] == len(answer) - len(layout.answer_prefix)
                ids = torch.tensor([built.ids(k) + cont])
                with torch.no_grad():  # the plain HF forward, logits at the answer's predicting positions
                    logits = m.model(input_ids=ids, logits_to_keep=len(cont) + 1).logits[0, :-1]
                logp = torch.log_softmax(logits.float(), -1)
                total = sum(logp[j, t] for j, t in enumerate(cont))
                torch.testing.assert_close(scores["loglik_sum"][b, k, o], total, atol=2e-5, rtol=1e-5)
                torch.testing.assert_close(scores["loglik_mean"][b, k, o], total / len(cont), atol=2e-5, rtol=1e-5)
                torch.testing.assert_close(
                    scores["loglik_char"][b, k, o], total / built.option_chars[k][o], atol=2e-5, rtol=1e-5
                )
                lengths.append(len(cont))
                n_checked += 1
            if len(set(lengths)) > 1:  # options of different lengths: the three modes rank them on different scales
                s, mean = scores["loglik_sum"][b, k, :n_opt], scores["loglik_mean"][b, k, :n_opt]
                differ |= not torch.allclose(s - s.max(), mean - mean.max())
    assert n_checked >= 12 and differ


def test_statement_tokenizer_scores_the_statement_token(tmp_path):
    dm = tiny_datamodule(tmp_path, score_layout="option_text")  # 8 probes per training sequence
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    spans, opts = batch["option_spans"], batch["option_token_ids"]
    real = opts >= 0
    assert ((spans[..., 1] - spans[..., 0])[real] == 1).all() and (spans[~real] == -1).all()
    b = torch.arange(len(spans))[:, None, None].expand_as(opts)
    assert (batch["input_ids"][b[real], spans[..., 0][real]] == opts[real]).all()
    # every option's token sits right after its probe's last token, in its own sub-branch
    pos = batch["position_ids"][b[real], spans[..., 0][real]]
    ans = batch["answer_positions"][..., None].expand_as(opts)[real]
    assert (pos == batch["position_ids"][b[real], ans] + 1).all()
    assert (batch["option_chars"][real] > 1).all()
    m = IndieValueReasoner(model_config=TINY_LLAMA, vocab_size=len(dm.tokenizer), score="loglik_sum")
    m.configure_model()
    with torch.no_grad():
        total = m(batch).scores
        m.hparams.score = "loglik_mean"
        assert torch.equal(m(batch).scores, total)  # one token per option
        m.hparams.score = "choice"  # the label head reads the same token's logit at the same position
        choice = m(batch).scores
    shift = torch.logsumexp(choice, -1, keepdim=True) - torch.logsumexp(total, -1, keepdim=True)
    torch.testing.assert_close((total + shift)[real], choice[real], atol=1e-4, rtol=0)


def test_score_mode_and_layout_must_agree(tmp_path):
    with pytest.raises(ConfigError, match="model.score=loglik_char .*data.score_layout=label"):
        check_score_layout("loglik_char", "label")
    with pytest.raises(ConfigError, match="data.score_layout=option_text .*model.score=choice"):
        check_score_layout("choice", "option_text")
    check_score_layout("loglik_mean", "option_text")
    with pytest.raises(ValueError, match="score_layout='loglik'"):
        IVRDataModule(catalog=str(tmp_path), score_layout="loglik")
    from ivr.fit import main

    argv = ["--config", "configs/tiny.yaml", "--model.score", "loglik_sum", "--checkpoint_dir", str(tmp_path / "c")]
    assert run(main, argv) == 2
    assert not (tmp_path / "c").exists()
