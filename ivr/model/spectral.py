"""A spectral start for statement embeddings: correspondence analysis of the training people's answers.

With the statement tokenizer every option statement is one token. Before training, the rows of the
input and output embeddings of those tokens can be set to the statements' coordinates in the leading
eigenvectors of the standardised co-occurrence matrix of the training people's answers (both forms
as one people x statements indicator matrix). Statements that the same people choose then start
close together, so the model begins from the population's main value dimensions instead of noise,
and a person's averaged demonstration embeddings already point towards their answers. Only the
given training rows are read; the result is deterministic (float64 eigendecomposition, each vector's
sign fixed by its largest entry).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ivr.catalog.store import Catalog
from ivr.data.statement_tokenizer import statement_token

CHUNK = 8192


def statement_columns(catalog: Catalog) -> list[tuple[int, str, int]]:
    """(question, form, option) of every statement, in the statement tokenizer's order."""
    return [
        (q, form, o)
        for q, question in enumerate(catalog.codebook.questions)
        for form in ("polar", "refined")
        for o in range(len(question.options(form)))
    ]


def statement_coordinates(catalog: Catalog, rows: np.ndarray, dims: int) -> np.ndarray:
    """float64 [statements, dims]: principal coordinates of the statements among ``rows``.

    The indicator matrix X (people x statements, 1 where the person chose the statement) gives
    ``C = D^-1/2 (X'X / n - f f') D^-1/2`` with f the statements' frequencies and D = diag(f); the
    coordinates are the leading eigenvectors of C scaled by the square roots of their eigenvalues.
    """
    cols = statement_columns(catalog)
    offset: dict[tuple[int, str], int] = {}
    for i, (q, form, _option) in enumerate(cols):
        offset.setdefault((q, form), i)
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    n_stmt = len(cols)
    gram = np.zeros((n_stmt, n_stmt))
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        x = np.zeros((len(part), n_stmt))
        for form in ("polar", "refined"):
            ans = catalog.answers(form)[part]
            base = np.array([offset[(q, form)] for q in range(ans.shape[1])])
            r, q = np.nonzero(ans >= 0)
            x[r, base[q] + ans[r, q]] = 1.0
        gram += x.T @ x
    n = max(len(rows), 1)
    freq = np.diag(gram) / n
    scale = 1.0 / np.sqrt(np.maximum(freq, 1.0 / n))
    c = (gram / n - np.outer(freq, freq)) * scale[:, None] * scale[None, :]
    values, vectors = np.linalg.eigh(c)
    order = np.argsort(values)[::-1][:dims]
    values, vectors = np.maximum(values[order], 0.0), vectors[:, order]
    flip = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
    return vectors * flip * np.sqrt(values)


@torch.no_grad()
def spectral_start(model: nn.Module, catalog: Catalog, rows: np.ndarray, tokenizer, std: float) -> int:
    """Write the statements' coordinates into the first dimensions of the input and output embedding rows
    (of every member's block, for a model with ``config.num_members``).

    The block is scaled to standard deviation ``std`` (the model's initialiser range, so the rest of
    the network sees inputs of the usual size). Returns the number of dimensions written.
    """
    emb = model.get_input_embeddings().weight
    members = int(getattr(model.config, "num_members", 1))  # side-by-side members each get the block
    dims = min(emb.shape[1] // members, len(statement_columns(catalog)))
    coords = statement_coordinates(catalog, rows, dims)
    coords = coords / max(float(coords.std()), 1e-12) * std
    ids = tokenizer.convert_tokens_to_ids(
        [statement_token(catalog.codebook.questions[q].id, form, o) for q, form, o in statement_columns(catalog)]
    )
    index = torch.as_tensor(ids, dtype=torch.long, device=emb.device)
    block = torch.as_tensor(coords, dtype=emb.dtype, device=emb.device)
    for weight in {id(w): w for w in (emb, model.get_output_embeddings().weight)}.values():
        width = weight.shape[1] // members
        for k in range(members):
            weight[index, k * width : k * width + dims] = block
    return dims


def spectral_start_for(model: nn.Module, dm) -> int:
    """:func:`spectral_start` from a data module: its catalog, statement tokenizer and training people.

    Raises:
        ConfigError: the data module does not use the statement tokenizer.
    """
    from ivr.data.statement_tokenizer import is_statement_tokenizer
    from ivr.errors import ConfigError

    if not is_statement_tokenizer(dm.tokenizer_dir):
        raise ConfigError(
            "model.embedding_init=spectral needs data.tokenizer: statement (one token per "
            f"statement); got {dm.hparams.tokenizer!r}; use embedding_init: random"
        )
    dm.setup_people()
    rows = np.unique(np.concatenate([np.asarray(p, dtype=np.int64) for p in dm.people]))
    std = float(getattr(model.config, "initializer_range", 0.02))
    return spectral_start(model, dm.catalog, rows, dm.tokenizer, std)
