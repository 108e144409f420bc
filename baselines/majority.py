"""Global majority baseline: the most common valid answer of the training pool per question.

Missing answers never count as a value (the published code let the missing code win). Ties
between options go to the lowest option index. A question nobody in the pool answered has no
majority: asking for it raises an error naming the question.
"""

from __future__ import annotations

import numpy as np

from ivr.catalog.store import Catalog


def global_majority(
    answers: np.ndarray, n_options: list[int] | np.ndarray, question_ids: list[str] | None = None
) -> np.ndarray:
    """Majority option per question over the given people.

    Args:
        answers: int [P, Q] option indices of the pool, -1 missing.
        n_options: options per question (length Q).
        question_ids: names used in error messages (default: indices).

    Returns:
        int8 [Q] majority option index (lowest index on ties).

    Raises:
        ValueError: a question has no valid answer in the pool.
    """
    answers = np.asarray(answers)
    n_opt = np.asarray(n_options, dtype=np.int64)
    width = int(n_opt.max(initial=1))
    # shift by one so that missing (-1) lands in bin 0, which is then dropped: it never counts
    counts = (
        np.stack(
            [
                np.bincount(answers[:, q].astype(np.intp) + 1, minlength=width + 1)[1 : width + 1]
                for q in range(answers.shape[1])
            ]
        )
        if answers.shape[1]
        else np.zeros((0, width), np.int64)
    )
    empty = counts.sum(axis=1) == 0
    if empty.any():
        names = question_ids or [str(i) for i in range(answers.shape[1])]
        bad = [names[i] for i in np.nonzero(empty)[0][:10]]
        raise ValueError(
            f"question(s) {bad} have no valid answer in the training pool, so no majority (or "
            "neighbour vote) exists; the catalog lacks these probe questions: drop them from the "
            "codebook or use a catalog where people answered them"
        )
    return counts.argmax(axis=1).astype(np.int8)  # argmax returns the first (lowest) max


def pool_majority(catalog: Catalog, pool_rows: np.ndarray, form: str, questions: np.ndarray) -> np.ndarray:
    """Global majority over ``pool_rows`` for ``questions`` in one form (int8 [len(questions)])."""
    qidx = np.asarray(questions, dtype=np.int64)
    ans = catalog.answers(form)[np.ix_(pool_rows, qidx)]
    n_opt = np.asarray(catalog.codebook.n_options(form))[qidx]
    names = [catalog.codebook.question_ids[q] for q in qidx]
    return global_majority(ans, n_opt, names)


def majority_table(catalog: Catalog, pool_rows: np.ndarray, form: str, questions: np.ndarray) -> np.ndarray:
    """int8 [Q] majority per codebook question over the pool, filled for ``questions`` (-1 elsewhere)."""
    qidx = np.unique(np.asarray(questions, dtype=np.int64))
    table = np.full(len(catalog.codebook.questions), -1, dtype=np.int8)
    table[qidx] = pool_majority(catalog, pool_rows, form, qidx)
    return table
