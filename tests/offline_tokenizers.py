"""Tokenizers of other families, built offline with the ``tokenizers`` library (no download).

:func:`train_sentencepiece_style` mimics Llama-2's SentencePiece tokenizer as transformers converts it:
``▁`` marks spaces and is prefixed to the start of a text, every digit is its own token (so ``"10"`` is
two tokens), unknown bytes fall back to ``<0xNN>`` tokens.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from ivr.catalog.codebook import Codebook
from ivr.data.prompts import PromptLayout, format_statement
from ivr.protocol.examples import FORMS


def train_sentencepiece_style(
    codebook: Codebook, layout: PromptLayout, vocab_size: int = 2000
) -> PreTrainedTokenizerFast:
    corpus = [layout.head, layout.middle, layout.tail] + [f"Option {k}" for k in range(1, 13)] * 50
    corpus += [f"Option {chr(65 + i)}" for i in range(26)] * 50  # Llama-2 has the tokens "▁A" .. "▁Z"
    for q in codebook.questions:
        for form in FORMS:
            for k, o in enumerate(q.options(form)):
                text = format_statement(o.statement)
                corpus += [f"# {text}", f"Option {k + 1}: {text}"]
    backend = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    backend.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    backend.train_from_iterator(
        corpus, trainer=trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="</s>",
        name_or_path="sentencepiece-style",
    )
