"""Cached tokenization: every statement line and fixed template piece is tokenized once per tokenizer.

A sequence is assembled by concatenating cached ids: the chat template's opening plus the
layout's head, one line per known statement, then per probe branch the middle piece, the option
lines (or the question token) and the tail with the answer slot. This equals tokenizing the
rendered text whenever piece boundaries are pre-token boundaries (true for the templates and
tokenizers the project builds; :meth:`TokenCache.check` verifies it for any tokenizer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from ivr.catalog.codebook import Codebook
from ivr.data.labels import choose_label_scheme
from ivr.data.prompts import PromptLayout, chat_wrap, format_statement
from ivr.data.statement_tokenizer import demographic_token, question_token, statement_token
from ivr.errors import IvrError
from ivr.protocol.examples import FORMS, Example

# a minimal chat template for the offline BPE tokenizer (role markers are special tokens)
BPE_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
BPE_SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>")


class TokenizationError(IvrError, ValueError):
    """Cached ids cannot reproduce the tokenizer's output for this template; the message says why."""


@dataclass
class Built:
    """Token ids of one example: a shared prefix and one branch per probe.

    Attributes:
        prefix: ids of the chat opening, head and known-statement lines.
        branches: per probe, the ids after the prefix (its answer position is the last token).
        option_ids: per probe, the token id read for each presented option.
        labels: per probe, the presented position of the correct option (-1 missing).
        option_index: per probe, the codebook option index at each presented position.
        n_demos: known value statements kept; n_dropped: dropped to fit ``max_len``.
        option_conts: per probe and presented option, the ids of the option's whole answer text (the
            continuation scored by ``model.score=loglik_*``); None unless built with ``continuations``.
        option_chars: per probe and presented option, the characters of that answer text (``loglik_char``).
    """

    prefix: np.ndarray
    branches: list[list[int]]
    option_ids: list[list[int]]
    labels: list[int]
    option_index: list[np.ndarray]
    n_demos: int
    n_dropped: int
    option_conts: list[list[list[int]]] | None = None
    option_chars: list[list[int]] | None = None

    def ids(self, k: int) -> list[int]:
        """The one-probe sequence of probe ``k``: prefix + its branch."""
        return self.prefix.tolist() + self.branches[k]


def widest_question(codebook: Codebook) -> tuple[int, str]:
    """(the most options any question has in either form, that question's id)."""
    return max((len(q.options(f)), q.id) for q in codebook.questions for f in FORMS)


class TokenCache:
    """Per-tokenizer cache of statement / option / template-piece ids for one layout.

    Args:
        tokenizer: a Hugging Face fast tokenizer (text) or the statement tokenizer.
        codebook: the codebook whose statements are cached.
        layout: the prompt layout (``kind="statement"`` needs the statement tokenizer).
    """

    def __init__(self, tokenizer: PreTrainedTokenizerFast, codebook: Codebook, layout: PromptLayout) -> None:
        self.tokenizer, self.codebook = tokenizer, codebook
        self.backend = tokenizer.backend_tokenizer
        self.statement = layout.kind == "statement"
        self._anchor = self._find_anchor()
        self.chat_prefix, self.chat_suffix = ("", "") if self.statement else chat_wrap(tokenizer)
        self.label_ids: list[int] = []
        if not self.statement:
            n_max, widest = widest_question(codebook)
            # the label scheme and answer-slot split in which every option label is one token here
            try:
                layout, self.label_ids = choose_label_scheme(
                    self.encode,
                    layout,
                    layout.tail + self.chat_suffix,
                    n_max,
                    self.tokenizer_name,
                    tokenizer.convert_ids_to_tokens,
                )
            except TokenizationError as err:
                raise TokenizationError(
                    f"codebook {codebook.name!r}: question {widest} has {n_max} options, and "
                    f"each needs a one-token label: {err}"
                ) from None
        self.layout = layout
        self.head = self.encode(self.chat_prefix + layout.head, leading=True)
        self.head_array = np.asarray(self.head, np.int64)
        self.middle = self.encode(layout.middle)
        self.tail_text = layout.tail + self.chat_suffix + layout.answer_prefix
        self.tail = self.encode(self.tail_text)
        self._lines: dict[tuple, list[int]] = {}
        self._stmt: dict[int, dict[str, Any]] = {}
        if self.statement:
            unk = tokenizer.unk_token_id
            if unk is not None and unk in self.head + self.middle + self.tail:
                raise TokenizationError(
                    f"{layout.path}: the fixed text has words outside the statement tokenizer's vocabulary"
                )

    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tokenizer, "name_or_path", "") or type(self.tokenizer).__name__)

    def _find_anchor(self) -> tuple[str, int] | None:
        """A special token to encode pieces after, so that tokenizers which mark the start of a text
        (SentencePiece's ``▁`` prefix) tokenize a piece as they do in the middle of a prompt."""
        for token in self.tokenizer.all_special_tokens:
            if len(self.backend.encode(token, add_special_tokens=False).ids) == 1:
                return token, 1
        return None

    def encode(self, text: str, leading: bool = False) -> list[int]:
        """Ids of ``text`` without added special tokens (special tokens written in the text are kept).

        ``leading``: ``text`` opens the sequence; otherwise it is tokenized as a continuation (after a
        special token, dropped again), which differs only for tokenizers that mark a text's start.
        """
        if leading or self._anchor is None:
            return self.backend.encode(text, add_special_tokens=False).ids
        anchor, n = self._anchor
        return self.backend.encode(anchor + text, add_special_tokens=False).ids[n:]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """:meth:`encode` (continuation pieces) of many texts at once."""
        anchor, n = self._anchor or ("", 0)
        return [e.ids[n:] for e in self.backend.encode_batch([anchor + t for t in texts], add_special_tokens=False)]

    # ---- texts of the pieces -------------------------------------------------------------
    def statement_text(self, form: int, q: int, o: int) -> str:
        question = self.codebook.questions[q]
        if self.statement:
            return statement_token(question.id, FORMS[form], o)
        return format_statement(question.options(FORMS[form])[o].statement)

    def demographic_text(self, j: int, code: int) -> str:
        demo = self.codebook.demographics[j]
        return demographic_token(demo.id, code) if self.statement else format_statement(demo.statement(code) or "")

    def _line(self, key: tuple, text: str | Callable[[], str], fmt: str, first: bool, **kw: Any) -> list[int]:
        ids = self._lines.get(key)
        if ids is None:
            line = fmt.format(statement=text() if callable(text) else text, **kw)
            ids = self.encode(line if first else self.layout.line_sep + line)
            self._lines[key] = ids
        return ids

    def _statement_table(self, form: int) -> dict[str, Any]:
        """Every statement line of a form tokenized once, as flat arrays for vectorised gathering.

        ``flat`` holds the ids of each line written after a separator, ``start``/``length`` [Q, O]
        locate them; ``first`` [Q][O] holds the ids of a line that opens the block (no separator).
        """
        table = self._stmt.get(form)
        if table is None:
            fmt, sep = self.layout.statement_line, self.layout.line_sep
            qs = self.codebook.questions
            width = max(len(q.options(FORMS[form])) for q in qs)
            keys = [(q, o) for q, question in enumerate(qs) for o in range(len(question.options(FORMS[form])))]
            lines = [fmt.format(statement=self.statement_text(form, q, o)) for q, o in keys]
            first = self.encode_batch(lines)
            rest = self.encode_batch([sep + x for x in lines])
            start = np.zeros((len(qs), width), np.int64)
            length = np.zeros((len(qs), width), np.int64)
            offsets = np.concatenate([[0], np.cumsum([len(r) for r in rest])])
            for i, (q, o) in enumerate(keys):
                start[q, o], length[q, o] = offsets[i], len(rest[i])
            firsts: list[list[list[int]]] = [[] for _ in qs]
            for (q, _), ids in zip(keys, first):
                firsts[q].append(ids)
            table = {
                "flat": np.fromiter(chain.from_iterable(rest), np.int64, int(offsets[-1])),
                "start": start,
                "length": length,
                "first": firsts,
            }
            self._stmt[form] = table
        return table

    def known_ids(self, ex: Example) -> tuple[np.ndarray, np.ndarray]:
        """Ids of the known-statement block and the token count of each line.

        Demographic statements come first, then the demonstrations (gathered with numpy from the
        per-form table, so 200 statements cost a few array operations).
        """
        fmt, parts, lengths = self.layout.statement_line, [], []
        for j, code in zip(ex.demographics.tolist(), ex.demographic_codes.tolist()):
            first = not parts
            ids = self._line(("d", j, code, first), lambda j=j, c=code: self.demographic_text(j, c), fmt, first)
            parts.append(np.asarray(ids, np.int64))
            lengths.append(len(ids))
        qs, os_ = ex.demo_questions, ex.demo_options
        if len(qs):
            table = self._statement_table(ex.demo_form)
            if not parts:  # the block's first line has no separator before it
                ids = table["first"][int(qs[0])][int(os_[0])]
                parts.append(np.asarray(ids, np.int64))
                lengths.append(len(ids))
                qs, os_ = qs[1:], os_[1:]
            start, length = table["start"][qs, os_], table["length"][qs, os_]
            ends = np.cumsum(length)
            index = np.arange(int(ends[-1]) if len(ends) else 0) + np.repeat(start - (ends - length), length)
            parts.append(table["flat"][index])
            lengths.extend(length.tolist())
        ids = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return ids, np.asarray(lengths, np.int64)

    def option_lines(self, form: int, q: int, order: np.ndarray) -> list[int]:
        """Branch ids between middle and tail: option lines (text) or the question token (statement)."""
        if self.statement:
            qid = self.codebook.questions[q].id
            return self._line(("q", form, q), lambda: question_token(qid, FORMS[form]), self.layout.option_line, True)
        ids: list[int] = []
        for k, o in enumerate(order):
            ids += self._line(
                ("o", form, q, int(o), k),
                lambda o=int(o): self.statement_text(form, q, o),
                self.layout.option_line,
                k == 0,
                k=self.layout.label(k + 1),
            )
        return ids

    def option_token_ids(self, form: int, q: int, order: np.ndarray) -> list[int]:
        if self.statement:
            ids = self._lines.get(("ids", form, q))
            if ids is None:
                qid = self.codebook.questions[q].id
                n = len(self.codebook.questions[q].options(FORMS[form]))
                ids = self._lines[("ids", form, q)] = self.tokenizer.convert_tokens_to_ids(
                    [statement_token(qid, FORMS[form], o) for o in range(n)]
                )
            return [ids[o] for o in order.tolist()]
        return self.label_ids[: len(order)]

    def option_continuations(self, form: int, q: int, order: np.ndarray) -> tuple[list[list[int]], list[int]]:
        """Per presented option, the ids and the character count of its whole answer (full-option scoring).

        Text layouts: the layout's ``response`` after the answer slot (``answer_prefix`` removed), e.g.
        ``" 3: I agree that ..."`` for ``choice.jinja``: the label and the whole statement. It is tokenized
        together with the tail, so the ids are those of the rendered answer. The statement layout: the
        option's statement token, counted as its statement's characters.

        Raises:
            TokenizationError: the response does not start with the answer prefix, or the answer's first
                token merges with the end of the tail.
        """
        if self.statement:
            ids = self.option_token_ids(form, q, order)
            options = self.codebook.questions[q].options(FORMS[form])
            return [[i] for i in ids], [len(format_statement(options[int(o)].statement)) for o in order]
        conts, chars = [], []
        prefix = self.layout.answer_prefix
        if not self.layout.response.startswith(prefix):
            raise TokenizationError(
                f"{self.layout.path}: response {self.layout.response!r} must start with the answer "
                f"slot text {prefix!r} to score whole options (score_layout: option_text)"
            )
        for k, o in enumerate(order.tolist()):
            key = ("c", form, q, int(o), k)
            text = self.layout.response_text(k + 1, self.statement_text(form, q, int(o)))[len(prefix) :]
            ids = self._lines.get(key)
            if ids is None:
                full = self.encode(self.tail_text + text)
                if full[: len(self.tail)] != self.tail or len(full) == len(self.tail):
                    raise TokenizationError(
                        f"{self.layout.path} with tokenizer {self.tokenizer_name!r}: the answer {text[:30]!r} does not "
                        "start a new token after the answer slot; end answer_prefix at a word boundary"
                    )
                ids = self._lines[key] = full[len(self.tail) :]
            conts.append(ids)
            chars.append(len(text))
        return conts, chars

    # ---- assembly ----------------------------------------------------------------------------
    def build(self, ex: Example, max_len: int | None = None, continuations: bool = False) -> Built:
        """Assemble an example from cached ids.

        Args:
            ex: the example record.
            max_len: sequence budget (prefix + all branches, with ``continuations`` also each probe's
                longest option answer); whole known statements are dropped from the end of the list
                until it fits, never cut.
            continuations: also the ids of every option's whole answer (:meth:`option_continuations`).

        Raises:
            TokenizationError: the probes alone do not fit ``max_len``.
        """
        known, lengths = self.known_ids(ex)
        branches, option_ids, labels, conts, chars = [], [], [], [], []
        for k, (q, form) in enumerate(zip(ex.probe_questions.tolist(), ex.probe_forms.tolist())):
            order = ex.option_orders[k]
            branches.append(self.middle + self.option_lines(form, q, order) + self.tail)
            option_ids.append(self.option_token_ids(form, q, order))
            if continuations:
                ids, n_chars = self.option_continuations(form, q, order)
                conts.append(ids)
                chars.append(n_chars)
            hit = np.flatnonzero(order == ex.labels[k])
            labels.append(int(hit[0]) if ex.labels[k] >= 0 and len(hit) else -1)
        n_lines = len(lengths)
        if max_len is not None:
            fixed = len(self.head) + sum(len(b) for b in branches) + sum(max(map(len, c)) for c in conts)
            if fixed > max_len:
                raise TokenizationError(
                    f"max_seq_length={max_len} is too small: the probes alone take {fixed} tokens "
                    f"({len(branches)} probes{', with their longest option answers' if continuations else ''}); raise "
                    "max_seq_length or lower probes_per_sequence"
                )
            if fixed + len(known) > max_len:  # keep the longest run of whole lines that fits
                n_lines = int(np.searchsorted(np.cumsum(lengths), max_len - fixed, side="right"))
                known = known[: int(lengths[:n_lines].sum())]
        prefix = np.concatenate([self.head_array, known])
        n_demo_lines = len(ex.demo_questions)
        dropped = len(lengths) - n_lines
        return Built(
            prefix,
            branches,
            option_ids,
            labels,
            list(ex.option_orders),
            n_demos=max(0, n_demo_lines - dropped),
            n_dropped=dropped,
            option_conts=conts if continuations else None,
            option_chars=chars if continuations else None,
        )

    # ---- the slow reference path -------------------------------------------------------------
    def known_texts(self, ex: Example) -> list[str]:
        demo = [self.demographic_text(j, c) for j, c in zip(ex.demographics.tolist(), ex.demographic_codes.tolist())]
        return demo + [
            self.statement_text(ex.demo_form, q, o)
            for q, o in zip(ex.demo_questions.tolist(), ex.demo_options.tolist())
        ]

    def option_texts(self, form: int, q: int, order: np.ndarray) -> list[str]:
        if self.statement:
            return [question_token(self.codebook.questions[q].id, FORMS[form])]
        return [self.statement_text(form, q, int(o)) for o in order]

    def render_text(self, ex: Example, k: int, n_known: int | None = None) -> str:
        """Full text of probe ``k`` asked alone (the one-probe-per-sequence prompt), chat-wrapped.

        ``n_known`` keeps only the first known statements (what :meth:`build` kept).
        """
        known = self.known_texts(ex)[:n_known]
        q, form = int(ex.probe_questions[k]), int(ex.probe_forms[k])
        user = self.layout.render(known, self.option_texts(form, q, ex.option_orders[k]))
        return self.chat_prefix + user + self.chat_suffix + self.layout.answer_prefix

    def render_then_tokenize(self, ex: Example) -> list[list[int]]:
        """Reference path: render every probe's prompt with Jinja-equivalent text and tokenize it."""
        return [self.encode(self.render_text(ex, k), leading=True) for k in range(len(ex.probe_questions))]

    def check(self, examples: list[Example]) -> None:
        """Verify cached assembly == render-then-tokenize on some examples.

        Raises:
            TokenizationError: naming the tokenizer, the template and the first differing token.
        """
        for ex in examples:
            built = self.build(ex)
            for k, ref in enumerate(self.render_then_tokenize(ex)):
                got = built.ids(k)
                if got != ref:
                    at = next((i for i, (a, b) in enumerate(zip(got, ref)) if a != b), min(len(got), len(ref)))
                    raise TokenizationError(
                        f"tokenizer {self.tokenizer_name!r} with template {self.layout.path}: "
                        f"cached ids differ from tokenizing the rendered text at token {at} "
                        f"({self.tokenizer.convert_ids_to_tokens(got[at : at + 3])} vs "
                        f"{self.tokenizer.convert_ids_to_tokens(ref[at : at + 3])}); make template pieces end at "
                        "word boundaries (e.g. a newline before each slot)"
                    )


def train_bpe_tokenizer(
    codebook: Codebook,
    layout: PromptLayout,
    out_dir: str | Path | None = None,
    vocab_size: int = 3000,
    chat_template: bool = True,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer offline on the codebook's statements and the template text.

    Args:
        codebook: statements (both forms, demographics) to train on.
        layout: the text layout whose fixed pieces and option lines are added to the corpus.
        out_dir: optional folder to save it to (``save_pretrained``).
        vocab_size: target vocabulary size.
        chat_template: attach :data:`BPE_CHAT_TEMPLATE` (role markers as special tokens).

    Returns:
        The tokenizer (``<bos>`` ``<eos>`` ``<pad>`` set).
    """
    corpus = [layout.head, layout.middle, layout.tail]
    # option labels at the answer slot must be single tokens: make them frequent
    n_max = widest_question(codebook)[0]
    corpus += [layout.answer_prefix + layout.answer_label.format(k=k) for k in range(1, max(8, n_max) + 1)] * 200
    for q in codebook.questions:
        for form in FORMS:
            for k, o in enumerate(q.options(form)):
                text = format_statement(o.statement)
                corpus += [
                    layout.statement_line.format(statement=text),
                    layout.option_line.format(k=k + 1, statement=text),
                ]
    for d in codebook.demographics:
        corpus += [format_statement(d.statement(c) or "") for c in d.values]
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(BPE_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<|user|>", "<|assistant|>", "<|system|>", "<|end|>"],
        model_max_length=1 << 20,
    )
    if chat_template:
        tok.chat_template = BPE_CHAT_TEMPLATE
    if out_dir is not None:
        tok.save_pretrained(str(out_dir))
    return tok
