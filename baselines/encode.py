"""Bit-packed one-hot answer codes for Hamming-distance neighbour search.

Every person's answers in one form become a one-hot bit vector: each question owns
``n_options`` bits and the chosen option's bit is set; a missing answer sets no bit, so it matches
nothing. The inner product of two such vectors is the number of questions both people answered
with the same option (their *agreement*).

**Exact agreement order from Hamming distance.** Binary indexes rank by Hamming distance
``H = |a| + |b| - 2 * agreement``, and ``|b|`` (the database person's number of valid compared
answers) differs from person to person, so plain Hamming order is not agreement order. We append a
*padding block* to every database vector holding ``M - |b|`` one-bits (``M`` = number of compared
questions; queries have zeros there). Then ``H' = |a| + M - 2 * agreement`` for every database
person: for a fixed query, smaller ``H'`` is exactly larger agreement.

**Compact codes.** Questions are packed in *blocks* of questions that are probes of the same set
of setups (byte-aligned), so the code of a setup is a concatenation of whole byte blocks: no
repacking per setup and no dead probe bits. The padding block needs ``M - min |b|`` bits; most
people miss few answers, so the database is split into a *dense* part (padding of a few bytes)
and a *sparse* part (people with many missing answers, full-width padding), searched separately
and merged exactly (:mod:`baselines.neighbours`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DENSE_QUANTILE = 0.9  # the dense part holds at least this share of the database


def setup_blocks(n_questions: int, setups: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Partition questions by the set of setups probing them (codebook order inside a block)."""
    signature: dict[tuple[int, ...], list[int]] = {}
    members = [set(np.asarray(p).tolist()) for p in setups]
    for q in range(n_questions):
        signature.setdefault(tuple(s for s, m in enumerate(members) if q in m), []).append(q)
    return [np.asarray(v, dtype=np.int64) for v in signature.values()]


def _pack(answers: np.ndarray, n_opt: np.ndarray) -> np.ndarray:
    """Packed one-hot bits (little bit order) of the columns of ``answers``."""
    # bit j of the code belongs to question question_of[j] and means option option_of[j]
    question_of = np.repeat(np.arange(len(n_opt)), n_opt)
    option_of = np.concatenate([np.arange(k) for k in n_opt]).astype(answers.dtype)
    return np.packbits(answers[:, question_of] == option_of[None, :], axis=1, bitorder="little")  # -1 never matches


@dataclass
class PackedAnswers:
    """One form's answers of a whole catalog as packed one-hot bits, per question block.

    Attributes:
        blocks: question indices of each block.
        bits: per block, uint8 [P, bytes] packed one-hot answers.
        counts: int32 [P, n_blocks] valid answers per block.
        n_options: per block, the options of each of its questions (bits per question).
    """

    blocks: list[np.ndarray]
    bits: list[np.ndarray]
    counts: np.ndarray
    n_options: list[np.ndarray] | None = None

    @classmethod
    def from_answers(
        cls, answers: np.ndarray, n_options: Sequence[int] | np.ndarray, blocks: list[np.ndarray] | None = None
    ) -> PackedAnswers:
        """Pack an option-index matrix (-1 = missing).

        Args:
            answers: int [P, Q] option indices, -1 missing.
            n_options: options per question, length Q.
            blocks: question blocks (default: one block of every question).

        Raises:
            ValueError: shapes disagree or an answer is outside its question's options.
        """
        answers = np.asarray(answers)
        n_opt = np.asarray(n_options, dtype=np.int64)
        if answers.ndim != 2 or answers.shape[1] != len(n_opt):
            raise ValueError(f"answers shape {answers.shape} does not match {len(n_opt)} questions")
        too_big = answers >= n_opt[None, :].astype(answers.dtype)
        if too_big.any():
            p, q = np.argwhere(too_big)[0]
            raise ValueError(f"row {p}, question {q}: option index {answers[p, q]} >= n_options {n_opt[q]}")
        blocks = [np.arange(len(n_opt))] if blocks is None else [np.asarray(b, dtype=np.int64) for b in blocks]
        bits = [_pack(answers[:, b], n_opt[b]) for b in blocks]
        counts = np.stack([(answers[:, b] >= 0).sum(axis=1) for b in blocks], axis=1).astype(np.int32)
        return cls(blocks, bits, counts, [n_opt[b] for b in blocks])

    def question_mask_bits(self, block: int, mask: np.ndarray) -> np.ndarray:
        """uint8 [E, bytes] bits of ``block`` kept by a per-person question mask bool [E, Q]."""
        b = self.blocks[block]
        per_bit = np.repeat(np.asarray(mask, dtype=bool)[:, b], self.n_options[block], axis=1)
        return np.packbits(per_bit, axis=1, bitorder="little")

    def block_ids(self, features: np.ndarray) -> list[int]:
        """The blocks making up ``features`` exactly.

        Raises:
            ValueError: ``features`` cuts through a block (pack with :func:`setup_blocks`).
        """
        want = set(np.asarray(features).tolist())
        ids = []
        for i, b in enumerate(self.blocks):
            inside = want.intersection(b.tolist())
            if inside and len(inside) != len(b):
                raise ValueError("compared questions cut through a packed block; pack with setup_blocks(setups)")
            if inside:
                ids.append(i)
        if sum(len(self.blocks[i]) for i in ids) != len(want):
            raise ValueError("compared questions include indices outside the packed questions")
        return ids


def _padding_table(m: int, width: int) -> np.ndarray:
    """uint8 [m + 1, width / 8]: row ``c`` holds ``min(m - c, width)`` leading one-bits."""
    ones = np.minimum(m - np.arange(m + 1), width)
    return np.packbits(np.arange(width)[None, :] < ones[:, None], axis=1, bitorder="little")


@dataclass
class CodePart:
    """One slice of the database with its own padding width.

    Attributes:
        queries: uint8 [E, B] query codes (padding zero).
        database: uint8 [D, B] database codes (padding = M - |b| ones).
        positions: int64 [D] positions of these people in the pool (ascending).
    """

    queries: np.ndarray
    database: np.ndarray
    positions: np.ndarray


@dataclass
class SetupCodes:
    """Padded codes of one (setup, form), split in dense/sparse database parts.

    Attributes:
        parts: the database parts.
        query_counts: int64 [E] valid compared answers of each query (|a|).
        n_compared: M, the number of compared questions.
        n_db: pool size.
    """

    parts: list[CodePart]
    query_counts: np.ndarray
    n_compared: int
    n_db: int

    def agreement(self, distances: np.ndarray) -> np.ndarray:
        """Agreements from padded Hamming distances: (|a| + M - H') / 2."""
        return (self.query_counts[:, None] + self.n_compared - distances) // 2


def setup_codes(
    packed: PackedAnswers,
    query_rows: np.ndarray,
    db_rows: np.ndarray,
    features: np.ndarray,
    query_mask: np.ndarray | None = None,
) -> SetupCodes:
    """Codes comparing people over ``features`` only.

    Args:
        packed: the form's packed answers for the whole catalog.
        query_rows: catalog rows of the people whose neighbours we want.
        db_rows: catalog rows of the candidate neighbours (pool positions = their order here).
        features: question indices compared (a union of packed blocks).
        query_mask: optional bool [E, Q]: compare query ``e`` only on the features where it is True
            (its shown demonstrations). Clearing query bits keeps ``H' = |a| + M - 2 * agreement``
            exact, with ``|a|`` the query's valid answers on its own questions.

    Returns:
        The padded codes.
    """
    ids = packed.block_ids(features)
    m = int(sum(len(packed.blocks[i]) for i in ids))
    if query_mask is None:
        q_bits = np.concatenate([packed.bits[i][query_rows] for i in ids], axis=1)
        q_count = packed.counts[np.ix_(query_rows, ids)].sum(axis=1).astype(np.int64)
    else:
        if packed.n_options is None:
            raise ValueError("query_mask needs PackedAnswers built by from_answers (it knows the bits per question)")
        q_bits = np.concatenate(
            [packed.bits[i][query_rows] & packed.question_mask_bits(i, query_mask) for i in ids], axis=1
        )
        q_count = np.unpackbits(q_bits, axis=1).sum(axis=1).astype(np.int64)  # one bit per valid answer
    d_bits = np.concatenate([packed.bits[i][db_rows] for i in ids], axis=1)
    d_count = packed.counts[np.ix_(db_rows, ids)].sum(axis=1)
    need = m - d_count  # padding ones per database person
    full = max(8, -(-m // 8) * 8)
    dense_w = min(full, max(8, -(-int(np.quantile(need, DENSE_QUANTILE)) // 8) * 8)) if len(need) else full
    parts = []
    for sel, width in ((need <= dense_w, dense_w), (need > dense_w, full)):
        pos = np.nonzero(sel)[0]
        if len(pos) == 0:
            continue
        pad = _padding_table(m, width)[d_count[pos]]
        parts.append(
            CodePart(
                queries=np.ascontiguousarray(
                    np.concatenate([q_bits, np.zeros((len(q_bits), width // 8), np.uint8)], 1)
                ),
                database=np.ascontiguousarray(np.concatenate([d_bits[pos], pad], axis=1)),
                positions=pos.astype(np.int64),
            )
        )
    return SetupCodes(parts, q_count, m, len(db_rows))
