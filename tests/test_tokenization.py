"""Cached tokenization equals tokenizing the rendered text; the statement tokenizer folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from ivr.data.fixtures import random_catalog
from ivr.data.prompts import load_layout
from ivr.data.statement_tokenizer import (
    SPECIAL_TOKENS,
    build_statement_tokenizer,
    load_statement_tokenizer,
    question_token,
    statement_token,
)
from ivr.data.tokenization import TokenCache, TokenizationError, train_bpe_tokenizer
from ivr.protocol.examples import PersonTable, Recipe, eval_example, train_example
from ivr.protocol.probes import probe_setups

RECIPES = [
    Recipe(),
    Recipe(demographics="with", option_order="shuffle", probes_per_sequence=5),
    Recipe(demographics="only", demo_form="refined", probe_form="r"),
    Recipe(demo_count="mixed", demo_form="refined", probe_form="p+r", probes_per_sequence=12),
    Recipe(demo_count="0"),
]


@pytest.fixture(scope="module")
def table() -> PersonTable:
    return PersonTable(random_catalog(40, seed=3))


@pytest.fixture(scope="module")
def bpe(table: PersonTable):
    return train_bpe_tokenizer(table.codebook, load_layout("choice"))


def _examples(table: PersonTable) -> list:
    setups = probe_setups(table.codebook)
    out = []
    for r, recipe in enumerate(RECIPES):
        for i in range(3):
            row = (7 * r + i) % 40
            q = int(np.flatnonzero(table.valid[row])[(11 * i + r) % 100])
            out.append(train_example(table, recipe, seed=r, epoch=i, question=q, row=row))
        out.append(eval_example(table, recipe, 0, row, 1, setups[1], form=r % 2))
    return out


def test_bpe_cached_ids_equal_rendered_text(table: PersonTable, bpe) -> None:
    cache = TokenCache(bpe, table.codebook, load_layout("choice"))
    assert cache.chat_prefix.startswith("<bos><|user|>") and cache.chat_suffix.endswith("<|assistant|>\n")
    cache.check(_examples(table))
    ex = _examples(table)[4]
    built = cache.build(ex)
    assert len(built.branches) == 5
    # the answer slot: the label " k" is one token after "...Option"
    text = cache.render_text(ex, 0) + " 2"
    assert cache.encode(text) == built.ids(0) + [built.option_ids[0][1]]


def test_bpe_without_chat_template_and_saved_folder(table: PersonTable, bpe, tmp_path: Path) -> None:
    plain = train_bpe_tokenizer(table.codebook, load_layout("choice"), out_dir=tmp_path / "bpe", chat_template=False)
    cache = TokenCache(plain, table.codebook, load_layout("choice"))
    assert cache.chat_prefix == "<bos>" and cache.chat_suffix == "\n\n"
    cache.check(_examples(table))
    loaded = AutoTokenizer.from_pretrained(str(tmp_path / "bpe"))
    TokenCache(loaded, table.codebook, load_layout("choice")).check(_examples(table)[:4])


def test_statements_are_tokenized_once(table: PersonTable, bpe) -> None:
    cache = TokenCache(bpe, table.codebook, load_layout("choice"))
    ex = _examples(table)[0]
    cache.build(ex)
    n = len(cache._lines)
    calls = []
    cache.backend = _Counting(cache.backend, calls)
    again = cache.build(ex)
    assert len(cache._lines) == n and calls == []
    assert again.ids(0) == cache.build(ex).ids(0)


class _Counting:
    def __init__(self, inner, calls: list) -> None:
        self.inner, self.calls = inner, calls

    def encode(self, *a, **k):
        self.calls.append(a)
        return self.inner.encode(*a, **k)


def test_multi_token_label_is_refused(table: PersonTable, bpe, tmp_path: Path) -> None:
    path = tmp_path / "bad.jinja"
    # labels "10", "20", ... are not single tokens of the BPE trained on "Option 1".."Option 8"
    path.write_text(
        '{%- set label_schemes = "numbers" -%}{%- set answer_label = " {k}0" -%}\n{{ known_statements }}\n{{ options }}'
    )
    with pytest.raises(TokenizationError, match="no label scheme gives one token per option label") as err:
        TokenCache(bpe, table.codebook, load_layout(path))
    assert str(path) in str(err.value) and "numbers: 'Option' + ' 10' ends in tokens ['Ġ1', '0']" in str(err.value)
    from ivr.data.tokenization import widest_question

    n, qid = widest_question(table.codebook)  # the error names the question that needs the most labels
    assert f"question {qid} has {n} options" in str(err.value)


def test_statement_tokenizer_folder_roundtrip(table: PersonTable, tmp_path: Path) -> None:
    cb = table.codebook
    folder = build_statement_tokenizer(cb, tmp_path / "stok")
    tok = load_statement_tokenizer(folder, cb)
    n_statements = sum(len(q.polar) + len(q.refined) for q in cb.questions)
    assert n_statements == 567 + 929
    n_demo = sum(len(d.values) for d in cb.demographics)
    assert len(tok) == len(SPECIAL_TOKENS) + n_statements + 2 * len(cb.questions) + n_demo
    auto = AutoTokenizer.from_pretrained(str(folder))
    assert auto.convert_tokens_to_ids(statement_token("Q1", "refined", 3)) == tok.convert_tokens_to_ids("Q1=r3")
    assert tok.bos_token == "<bos>" and tok.pad_token_id == 0
    cache = TokenCache(tok, cb, load_layout("statement"))
    cache.check(_examples(table))
    ex = dataclasses.replace(_examples(table)[4])
    built = cache.build(ex)
    # one token per statement: <bos> + demographics + demos, and a single question token per probe
    assert len(built.prefix) == 1 + len(ex.demographics) + len(ex.demo_questions)
    q, form = int(ex.probe_questions[0]), ("polar", "refined")[int(ex.probe_forms[0])]
    qid = cb.questions[q].id
    assert tok.convert_ids_to_tokens(built.branches[0]) == [question_token(qid, form)]
    expect = [statement_token(qid, form, int(o)) for o in ex.option_orders[0]]
    assert tok.convert_ids_to_tokens(built.option_ids[0]) == expect


def test_statement_tokenizer_refuses_other_codebook(table: PersonTable, tmp_path: Path) -> None:
    cb = table.codebook
    folder = build_statement_tokenizer(cb, tmp_path / "stok")
    other = dataclasses.replace(cb, questions=cb.questions[:-1])
    with pytest.raises(ValueError, match="built for codebook"):
        load_statement_tokenizer(folder, other)
    with pytest.raises(FileNotFoundError, match="not a statement tokenizer"):
        load_statement_tokenizer(tmp_path)


def test_eleven_option_scale_gets_one_label_token_each() -> None:
    """A 0-10 scale (11 options) works with a text layout; the widest question sets the label count."""
    from ivr.catalog.codebook import codebook_from_dict
    from ivr.data.fixtures import random_catalog
    from ivr.examples import small_survey as mod

    cb = codebook_from_dict(mod.codebook())
    table = PersonTable(random_catalog(30, seed=1, codebook=cb))
    tok = train_bpe_tokenizer(cb, load_layout("choice"))
    cache = TokenCache(tok, cb, load_layout("choice"))
    assert len(cache.label_ids) == 11 and len(set(cache.label_ids)) == 11
    life = cb.question_ids.index("life_sat")
    row = int(np.flatnonzero(table.valid[:, life])[0])
    ex = train_example(table, Recipe(demo_count="5", probe_form="r"), seed=0, epoch=0, question=life, row=row)
    built = cache.build(ex)
    assert len(built.option_ids[0]) == 11
    cache.check([ex])
