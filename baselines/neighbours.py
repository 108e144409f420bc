"""Exact nearest neighbours by agreement through a FAISS binary (Hamming) index.

With the padded codes of :mod:`baselines.encode`, smaller Hamming distance means more shared
answers, exactly. FAISS returns the ``k`` smallest distances but orders tied candidates
arbitrarily, and may cut a run of ties at ``k``. We therefore ask for ``k`` larger than needed,
check per query that the last returned distance is strictly larger than the ``n``-th one (so every
candidate tied with the ``n``-th is among the results), widen the search for the queries where it
is not, and re-sort the results by ``(distance, database index)``.

**Tie-break** (seeded, independent of catalog row order): among people with the same agreement the
order is a seeded random one, drawn separately for every query person: candidate ``c`` of query
``e`` ranks by ``splitmix64(seed, key(e), key(c))``, where the keys are hashed person ids
(:func:`ivr.protocol.sampling.id_keys`), then by the candidate's key. The same seed and people give the
same neighbours however the catalog rows are ordered, and no person (say the first country of a
file sorted by country) wins ties systematically. Without keys, ties go to the lower database
position (used by tests against a brute-force reference).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import faiss
import numpy as np

from baselines.encode import SetupCodes

GPU_MAX_K = 2048  # FAISS GPU k-selection limit
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic): a fast seeded hash."""
    with np.errstate(over="ignore"):  # wrapping is the point (scalars warn, arrays do not)
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class TieKeys:
    """What seeded tie-breaking is keyed on.

    Attributes:
        queries: uint64 [E] hashed person ids of the query people.
        database: uint64 [n_db] hashed person ids of the pool, by pool position.
        seed: the run seed.
    """

    queries: np.ndarray
    database: np.ndarray
    seed: int = 0

    def priority(self, query_index: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """uint64 [len(query_index), k] tie priority of pool ``positions`` [.., k] for those queries."""
        base = splitmix64(splitmix64(np.uint64(self.seed & (2**64 - 1))) ^ self.queries[query_index])
        return splitmix64(base[:, None] ^ self.database[positions])


def gpu_available() -> bool:
    """True when this faiss build has GPU support and sees at least one GPU."""
    return hasattr(faiss, "GpuIndexBinaryFlat") and faiss.get_num_gpus() > 0


def _binary_index(database: np.ndarray, use_gpu: bool) -> faiss.IndexBinary:
    d = database.shape[1] * 8
    if use_gpu:
        res = faiss.StandardGpuResources()
        index = faiss.GpuIndexBinaryFlat(res, d)
        index.referenced_objects = [res]  # keep the GPU resources alive as long as the index
    else:
        index = faiss.IndexBinaryFlat(d)
    index.add(database)
    return index


def default_threads() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _search(index: faiss.IndexBinary, queries: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """``index.search`` with the queries split over ``threads`` Python threads (FAISS drops the GIL).

    Plain threads instead of FAISS's OpenMP ones: on a busy machine OpenMP workers spin-wait for
    each other and a search can get several times slower; independent chunks do not wait.
    """
    if threads <= 1 or len(queries) < 2 * threads:
        return index.search(queries, k)
    chunks = np.array_split(np.arange(len(queries)), threads)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda c: index.search(queries[c], k), chunks))
    return np.concatenate([d for d, _ in parts]), np.concatenate([i for _, i in parts])


def _sort_ties(
    dist: np.ndarray,
    idx: np.ndarray,
    n: int,
    n_db: int,
    ties: TieKeys | None = None,
    query_index: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Order each row by (distance, tie priority) and keep the first ``n`` (see the module doc)."""
    if ties is None:
        key = dist.astype(np.int64) * (n_db + 1) + idx
        order = np.argsort(key, axis=1)[:, :n]  # keys are unique per row, so any sort is deterministic
    else:
        prio = ties.priority(query_index, idx)
        order = np.lexsort((ties.database[idx], prio, dist.astype(np.int64)), axis=1)[:, :n]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)


def top_neighbours(
    codes: SetupCodes,
    n: int,
    use_gpu: bool | None = None,
    margin: int = 32,
    threads: int | None = None,
    ties: TieKeys | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` pool people sharing the most answers with each query, ties broken as the module doc says.

    Args:
        codes: padded query/database codes of one (setup, form).
        n: neighbours per query (the largest cluster size needed).
        use_gpu: force a GPU (True) / CPU (False) index; None = GPU when available.
        margin: extra results fetched to detect ties that cross the ``n``-th place.
        threads: CPU search threads (default: the cores available).
        ties: person-id keys for seeded random tie-breaking; None = lower pool position first.

    Returns:
        ``(agreement int64 [E, n], position int64 [E, n])``: pool positions ordered by decreasing
        agreement, then by tie priority.

    Raises:
        ValueError: ``n`` exceeds the pool size or is < 1.
    """
    if n < 1 or n > codes.n_db:
        raise ValueError(
            f"cluster size {n} must be between 1 and the pool size {codes.n_db}; lower --max-n or use a larger pool"
        )
    use_gpu = gpu_available() if use_gpu is None else use_gpu
    if use_gpu and not gpu_available():
        raise ValueError("a GPU FAISS index was requested but faiss sees no GPU (install faiss-gpu or drop it)")
    threads = default_threads() if threads is None else max(1, threads)
    omp_before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # parallelism comes from _search's threads
    try:
        out_d, out_i = _ranked(codes, n, use_gpu, margin, threads, ties)
    finally:
        faiss.omp_set_num_threads(omp_before)
    return codes.agreement(out_d), out_i


def _ranked(
    codes: SetupCodes, n: int, use_gpu: bool, margin: int, threads: int, ties: TieKeys | None
) -> tuple[np.ndarray, np.ndarray]:
    """Padded distances and pool positions of the ``n`` nearest, ties resolved (see module doc)."""
    parts = [(p, _binary_index(p.database, use_gpu)) for p in codes.parts]
    cpu: dict[int, faiss.IndexBinary] = {}
    n_q = len(codes.query_counts)
    out_d = np.empty((n_q, n), dtype=np.int64)
    out_i = np.empty((n_q, n), dtype=np.int64)
    todo = np.arange(n_q)
    want = max(n + margin, 2 * n)
    while len(todo):
        dists, idxs, lasts = [], [], []
        for j, (part, index) in enumerate(parts):
            k = min(len(part.positions), want)
            on_gpu = use_gpu
            if use_gpu and k > GPU_MAX_K:  # beyond the GPU k limit: the (rare) rest on the CPU
                if j not in cpu:
                    cpu[j] = _binary_index(part.database, False)
                index, on_gpu = cpu[j], False
            dist, idx = (
                index.search(part.queries[todo], k) if on_gpu else _search(index, part.queries[todo], k, threads)
            )
            dists.append(dist)
            idxs.append(part.positions[idx])
            # a part is complete when it returned everyone, else its last distance bounds the rest
            lasts.append(np.full(len(todo), np.iinfo(np.int64).max) if k == len(part.positions) else dist[:, -1])
        d_sorted, i_sorted = _sort_ties(np.concatenate(dists, 1), np.concatenate(idxs, 1), n, codes.n_db, ties, todo)
        nth = d_sorted[:, -1]
        # resolved: in every part, each candidate tied with the n-th is among the returned ones
        done = np.all([last > nth for last in lasts], axis=0)
        out_d[todo[done]] = d_sorted[done]
        out_i[todo[done]] = i_sorted[done]
        todo = todo[~done]
        want *= 4
    return out_d, out_i
