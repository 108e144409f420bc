"""Seeded, order-free sampling of demonstrations and probe targets.

Every draw is a pure function of ``(seed, tag, person_id, setup, epoch)``: the RNG is built from
those integers, never from global state, so the same person gets the same demonstrations however
the people are ordered, batched or split over workers and ranks.

Demonstration rules (the study uses both):

* ``"setup"``: leave out every probe question of the setup (zero-shot probing; also what packed
  multi-probe scoring needs, because all probes share one prefix).
* ``"probe"``: leave out only the probed question (the study's fine-tuned evaluation).

When a person has fewer valid candidates than ``d``, all candidates are used (in a seeded random
order); the number actually drawn is the length of the returned array.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ivr.catalog.store import Catalog
from ivr.errors import ConfigError

EXCLUDE_RULES = ("setup", "probe")
MIXED_RANGE = (50, 200)  # "mixed": d uniform in [50, 200], both ends included (the study's randint)
RAND_RANGE = (100, 200)  # "rand": the study's other variable-d training setting

# small int tags keep the RNG streams of different draws apart
TAG_DEMOS = 0
TAG_COUNT = 1


def _key(value: int | str | np.integer) -> int:
    """A non-negative integer for the seed sequence (negatives and string ids map injectively)."""
    if isinstance(value, (str, bytes)):
        raw = value.encode() if isinstance(value, str) else value
        return (1 << 65) + int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")
    v = int(value)
    return v if v >= 0 else (1 << 64) + (-v)


def hash_key(key: int | str) -> int:
    """A stable unsigned 64-bit sort key for a person id (ints keep their order)."""
    if isinstance(key, (int, np.integer)):
        return int(key) & ((1 << 64) - 1)
    return int.from_bytes(hashlib.blake2b(str(key).encode(), digest_size=8).digest(), "little")


def id_keys(person_ids: np.ndarray) -> np.ndarray:
    """uint64 [P] :func:`hash_key` of every person id: what order- and tie-free draws are keyed on."""
    ids = np.asarray(person_ids)
    if ids.dtype.kind in "iu":
        return ids.astype(np.int64).view(np.uint64) if ids.dtype.kind == "i" else ids.astype(np.uint64)
    return np.fromiter((hash_key(x) for x in ids.tolist()), dtype=np.uint64, count=len(ids))


def person_rng(seed: int, tag: int, person_id: int | str, setup: int, epoch: int, *extra: int) -> np.random.Generator:
    """The RNG of one (seed, tag, person, setup, epoch, *extra); setup may be -1 (training)."""
    keys = [seed, tag, person_id, setup, epoch, *extra]
    return np.random.default_rng([_key(k) for k in keys])


def demo_count(spec: str | int, seed: int, person_id: int | str, setup: int, epoch: int) -> int:
    """How many demonstrations a person gets.

    Args:
        spec: an int or numeric string (fixed d, e.g. ``"200"``), ``"mixed"`` (uniform 50..200) or
            ``"rand"`` (uniform 100..200).
        seed, person_id, setup, epoch: the draw's identity.

    Returns:
        d >= 0.

    Raises:
        ValueError: an unknown spec or a negative count.
    """
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str) and spec.strip().isdigit()):
        d = int(spec)
        if d < 0:
            raise ConfigError(f"demonstration count must be >= 0, got {spec!r}")
        return d
    ranges = {"mixed": MIXED_RANGE, "rand": RAND_RANGE}
    if spec not in ranges:
        raise ConfigError(f"unknown demonstration count {spec!r}: use an integer such as '200', 'mixed' or 'rand'")
    lo, hi = ranges[spec]
    return int(person_rng(seed, TAG_COUNT, person_id, setup, epoch).integers(lo, hi + 1))


def demo_exclusion(setup_probes: np.ndarray, probe_q: int | None, rule: str) -> np.ndarray:
    """Question indices a rule keeps out of the demonstrations.

    Args:
        setup_probes: all probe question indices of the setup.
        probe_q: the probed question (required for rule ``"probe"``).
        rule: ``"setup"`` or ``"probe"``.
    """
    if rule == "setup":
        return np.asarray(setup_probes, dtype=np.int64)
    if rule == "probe":
        if probe_q is None:
            raise ValueError("exclude rule 'probe' needs the probed question index (probe_q)")
        return np.asarray([probe_q], dtype=np.int64)
    raise ValueError(f"unknown demonstration exclusion rule {rule!r}; expected one of {EXCLUDE_RULES}")


def demo_candidates(valid_row: np.ndarray, setup_probes: np.ndarray, probe_q: int | None, rule: str) -> np.ndarray:
    """Valid question indices a person's demonstrations may be drawn from (ascending).

    Args:
        valid_row: bool [Q], the person's valid answers.
        setup_probes: the setup's probe question indices.
        probe_q: the probed question (used by rule ``"probe"``; ignored by ``"setup"``).
        rule: ``"setup"`` or ``"probe"``.
    """
    mask = np.asarray(valid_row, dtype=bool).copy()
    mask[demo_exclusion(setup_probes, probe_q, rule)] = False
    return np.flatnonzero(mask)


def sample_demos(
    valid: np.ndarray,
    exclude: np.ndarray,
    d: int,
    seed: int,
    person_id: int | str,
    setup: int,
    epoch: int,
    tag: int = 0,
) -> np.ndarray:
    """Draw a person's demonstration questions.

    Args:
        valid: bool [Q], the person's valid answers.
        exclude: question indices that may not be demonstrations.
        d: how many to draw; fewer are returned when fewer candidates exist (all of them).
        seed, person_id, setup, epoch: the draw's identity; ``tag`` separates independent streams
            (e.g. several draws for one person and epoch).

    Returns:
        int64 question indices in presentation order (a seeded random order, no repeats).
    """
    if d < 0:
        raise ConfigError(f"demonstration count must be >= 0, got {d}")
    mask = np.asarray(valid, dtype=bool).copy()
    mask[np.asarray(exclude, dtype=np.int64)] = False
    cand = np.flatnonzero(mask)
    rng = person_rng(seed, TAG_DEMOS, person_id, setup, epoch, tag)
    # a full permutation keeps the draw a prefix-consistent function of the candidates
    return cand[rng.permutation(len(cand))[: min(d, len(cand))]].astype(np.int64)


@dataclass
class ProbeTargets:
    """Which probes each person answered, and the correct option index of each.

    Attributes:
        rows: catalog rows [R].
        questions: probe question indices [K].
        targets: int64 [R, K] option index in the form, -1 where the person did not answer.
        answered: bool [R, K].
        n_unanswered: probes left out of scoring because the person did not answer them.
    """

    rows: np.ndarray
    questions: np.ndarray
    targets: np.ndarray
    answered: np.ndarray
    n_unanswered: int


def probe_targets(catalog: Catalog, rows: np.ndarray, setup_probes: np.ndarray, form: str) -> ProbeTargets:
    """The probe answers of some people; unanswered probes are excluded from scoring.

    Args:
        catalog: the catalog.
        rows: catalog row indices.
        setup_probes: probe question indices of the setup.
        form: ``"polar"`` or ``"refined"``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    questions = np.asarray(setup_probes, dtype=np.int64)
    targets = catalog.answers(form)[np.ix_(rows, questions)].astype(np.int64)
    answered = targets >= 0
    return ProbeTargets(rows, questions, targets, answered, int((~answered).sum()))
