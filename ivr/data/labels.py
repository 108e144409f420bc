"""Option labels that are one token each at the answer slot, chosen per tokenizer.

The choice head reads the next-token logits at the answer slot, so every option label must be exactly
one token *in context*. Tokenizers disagree: GPT-2-style byte-level BPE writes ``" 1"`` as one token,
Llama-3 writes it as ``"Ġ"`` + ``"1"`` (digits never merge with a space) but ``" A"`` as one token,
and SentencePiece (Llama-2) splits every digit, so ``"10"`` is two tokens. A layout names the label
schemes it accepts (``label_schemes``, e.g. ``"numbers, letters"``) and its answer text
(``answer_prefix + answer_label``, e.g. ``"Option" + " {k}"``); :func:`choose_label_scheme` tries each
scheme with the answer slot ending just before the whitespace in front of the label (``"Option"`` |
``" 1"``) and just after it (``"Option "`` | ``"1"``), and keeps the first that gives one distinct
token per label for all ``n`` options. Either split renders the same text (``Option 1: ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ivr.data.prompts import PromptLayout, option_label, scheme_size


def answer_splits(layout: PromptLayout) -> tuple[str, list[int]]:
    """The answer text format and the candidate split points (characters before the label).

    ``"Option {k}"`` gives splits ``[6, 7]``: before and after the space in front of ``{k}``.
    """
    fmt = layout.answer_prefix + layout.answer_label
    fixed = fmt[: fmt.index("{k}")]
    return fmt, sorted({len(fixed.rstrip()), len(fixed)})


def choose_label_scheme(
    encode: Callable[[str], list[int]],
    layout: PromptLayout,
    context: str,
    n: int,
    tokenizer_name: str = "?",
    to_tokens: Callable[[list[int]], list[str]] = lambda ids: [str(i) for i in ids],
) -> tuple[PromptLayout, list[int]]:
    """Pick the first label scheme (and answer-slot split) in which each of ``n`` labels is one token.

    Args:
        encode: text -> ids, as the token cache encodes a piece that follows other text.
        layout: the text layout (its ``label_schemes``, ``answer_prefix``, ``answer_label``).
        context: the text before the answer (the layout's tail and the chat template's assistant opening).
        n: the number of labels needed (the codebook's widest question).
        tokenizer_name: named in the error.
        to_tokens: ids -> token strings (for the error).

    Returns:
        (the layout with ``scheme``, ``answer_prefix`` and ``answer_label`` set, the label token ids).

    Raises:
        TokenizationError: no scheme fits; the message names the template, the tokenizer and, per
            scheme, the first label that is not one token.
    """
    from ivr.data.tokenization import TokenizationError

    fmt, splits = answer_splits(layout)
    tried: list[str] = []
    for scheme in layout.schemes():
        size = scheme_size(scheme)
        if size is not None and n > size:
            tried.append(f"{scheme}: has {size} labels, {n} needed")
            continue
        for cut in splits:
            prefix, label_fmt = fmt[:cut], fmt[cut:]
            base = encode(context + prefix)
            ids, problem = [], ""
            for k in range(1, n + 1):
                label = label_fmt.format(k=option_label(scheme, k))
                full = encode(context + prefix + label)
                if len(full) != len(base) + 1 or full[: len(base)] != base:
                    same = next((i for i, (a, b) in enumerate(zip(base, full)) if a != b), min(len(base), len(full)))
                    problem = (
                        f"{prefix!r} + {label!r} ends in tokens {to_tokens(full[same:])}, "
                        f"not {to_tokens(base[same:])} + one label token"
                    )
                    break
                ids.append(full[-1])
            if not problem and len(set(ids)) == n:
                return replace(layout, scheme=scheme, answer_prefix=prefix, answer_label=label_fmt), ids
            tried.append(f"{scheme}: {problem or 'labels share a token'}")
    raise TokenizationError(
        f"{layout.path} with tokenizer {tokenizer_name!r}: no label scheme gives one token per option label at the "
        f"answer slot for {n} options ({'; '.join(tried)}); add a scheme to label_schemes "
        f"(one of 'numbers', 'letters') or change answer_prefix/answer_label in the template"
    )
