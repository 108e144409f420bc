"""A statement-level tokenizer: one token per codebook statement, so a tiny model sees ~240 tokens.

Vocabulary (deterministic, codebook order):

* structural tokens ``<pad> <unk> <bos> <eos> <sep>``;
* per value question and form, one token per option statement: ``Q1=p0`` (polar option 0),
  ``Q1=r3`` (refined option 3) -- both forms get their own tokens even where the wording is equal;
* per value question and probe form, a question token ``Q1?p`` / ``Q1?r``: the model's next-token
  logits at this token are read at that question's statement tokens in the probe form;
* per demographic and valid raw code, a statement token ``D:Q260=1``.

Saved as a Hugging Face tokenizer folder (``PreTrainedTokenizerFast`` over a ``tokenizers``
WordLevel model with whitespace splitting) plus ``statement_vocab.json`` recording the codebook
name and hash, so a folder built for another codebook is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast

from ivr.catalog.codebook import Codebook
from ivr.catalog.store import atomic_dir
from ivr.errors import InputError, InputNotFoundError

SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>", "<sep>")
META_FILE = "statement_vocab.json"
_FORM_LETTER = {"polar": "p", "refined": "r"}


def _clean(name: str) -> str:
    """A token-safe id (whitespace would split the token)."""
    return re.sub(r"\s+", "_", str(name))


def statement_token(qid: str, form: str, option: int) -> str:
    """Token of option ``option`` of question ``qid`` in ``form``."""
    return f"{_clean(qid)}={_FORM_LETTER[form]}{int(option)}"


def question_token(qid: str, form: str) -> str:
    """Token that asks question ``qid`` in probe form ``form``."""
    return f"{_clean(qid)}?{_FORM_LETTER[form]}"


def question_token_ids(tokenizer: PreTrainedTokenizerFast, codebook: Codebook) -> list[int]:
    """Ids of every question token (both probe forms) of a statement tokenizer built for ``codebook``."""
    tokens = [question_token(q.id, form) for q in codebook.questions for form in ("polar", "refined")]
    return [int(i) for i in tokenizer.convert_tokens_to_ids(tokens)]


def demographic_token(demo_id: str, code: int) -> str:
    """Token of a demographic statement (demographic id, raw code)."""
    return f"D:{_clean(demo_id)}={int(code)}"


def statement_vocab(codebook: Codebook) -> list[str]:
    """The vocabulary in id order."""
    vocab = list(SPECIAL_TOKENS)
    for q in codebook.questions:
        for form in ("polar", "refined"):
            vocab.extend(statement_token(q.id, form, o) for o in range(len(q.options(form))))
    for q in codebook.questions:
        vocab.extend(question_token(q.id, form) for form in ("polar", "refined"))
    for d in codebook.demographics:
        vocab.extend(demographic_token(d.id, code) for code in sorted(d.values))
    if len(set(vocab)) != len(vocab):
        dup = sorted({v for v in vocab if vocab.count(v) > 1})[:5]
        raise InputError(f"codebook {codebook.name!r}: ids collide after cleaning whitespace: {dup}")
    return vocab


def make_statement_tokenizer(codebook: Codebook) -> PreTrainedTokenizerFast:
    """Build the tokenizer in memory."""
    vocab = {tok: i for i, tok in enumerate(statement_vocab(codebook))}
    backend = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        sep_token="<sep>",
        model_max_length=1 << 20,
    )


def build_statement_tokenizer(codebook: Codebook, out_dir: str | Path) -> Path:
    """Write the statement tokenizer folder (atomically).

    Args:
        codebook: the codebook whose statements become tokens.
        out_dir: destination folder (replaced if present).

    Returns:
        The folder; load it with :func:`load_statement_tokenizer` or ``AutoTokenizer.from_pretrained``.
    """
    import sys
    import time

    start = time.monotonic()
    tokenizer = make_statement_tokenizer(codebook)

    def write(tmp: Path) -> None:
        tokenizer.save_pretrained(str(tmp))
        meta = {"codebook": codebook.name, "codebook_hash": codebook.hash, "vocab_size": len(tokenizer)}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))

    folder = atomic_dir(Path(out_dir), write, "statement_tokenizer", flag="--data.cache_dir")
    print(
        f"[ivr] built the statement tokenizer of codebook {codebook.name!r} ({len(tokenizer)} tokens, once) in "
        f"{folder} in {time.monotonic() - start:.1f} s",
        file=sys.stderr,
    )
    return folder


def load_statement_tokenizer(folder: str | Path, codebook: Codebook | None = None) -> PreTrainedTokenizerFast:
    """Load a statement tokenizer folder, checking it was built for ``codebook`` when given.

    Raises:
        FileNotFoundError: the folder is not a statement tokenizer.
        ValueError: it was built for a different codebook.
    """
    folder = Path(folder)
    if not (folder / META_FILE).exists():
        raise InputNotFoundError(f"{folder}: not a statement tokenizer folder (missing {META_FILE})")
    meta = json.loads((folder / META_FILE).read_text())
    if codebook is not None and meta.get("codebook_hash") != codebook.hash:
        raise InputError(
            f"{folder}: statement tokenizer was built for codebook {meta.get('codebook')!r} "
            f"(hash {str(meta.get('codebook_hash'))[:12]}), not {codebook.name!r} ({codebook.hash[:12]}); "
            "rebuild it with build_statement_tokenizer"
        )
    return PreTrainedTokenizerFast.from_pretrained(str(folder))


def is_statement_tokenizer(folder: str | Path) -> bool:
    """Whether a folder holds a statement tokenizer."""
    return (Path(folder) / META_FILE).exists()
