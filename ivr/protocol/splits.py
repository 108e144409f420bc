"""The held-out evaluation people (test + validation halves) and the training pool.

Rules (all seeded; the result depends on person ids, never on catalog row order):

* ``"study"`` -- the original study's selection (pipeline notes, section 4), seeded this time:
  eligible people answered every probe question of every setup validly and have at least
  ``max demonstrations (200) + probes per setup (39)`` = 239 valid answers. Every eligible person
  from Oceania is taken (a random ``size`` of them if there are more); the remaining places are
  split evenly over the other continents, ``per = int((size - n_oceania) / n_other) + 1``. Each
  other continent first keeps people with at least 3/4 of the demographics valid (24 of 31 for
  WVS-7), caps every capped religion at 80 random people, then samples ``per`` (all when fewer).
  Finally ``size`` people are sampled from the union. It needs the codebook roles ``continent``
  (and ``religion`` for the caps; without it no caps are applied).
* ``"stratified"`` -- for surveys without those demographics: eligible people as above,
  stratified by the ``country`` role (else ``continent``, else none) with proportional allocation
  (largest remainder, ties by stratum name), sampled at random within each stratum.
* ``ids_file`` -- a published list of person ids (``.txt`` one per line, or ``.jsonl`` with the
  codebook's id column or ``person_id``) replaces the rule.

The evaluation people, in person-id order, are shuffled with the seed; the first half (rounded up)
is the test set, the rest the validation set, so an id list written by :meth:`EvalSplit.write_ids`
gives back the same halves with the same seed. Every other person is the training pool.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ivr.catalog.store import Catalog
from ivr.errors import ConfigError, InputError, InputNotFoundError
from ivr.protocol.probes import all_probe_questions, check_probe_answers, probe_setups

RULES = ("study", "stratified")
STUDY_MAX_DEMOS = 200
STUDY_RELIGION_CAP = 80
STUDY_DEMOGRAPHIC_FRACTION = 0.75
EXEMPT_CONTINENT = "Oceania"
# In the study every religion except Jew (4) and Hindu (6) was capped (missing was not capped).
WVS7_UNCAPPED_RELIGION_CODES = (4, 6)

TAG_SELECT = 11
TAG_HALVES = 12


@dataclass
class EvalSplit:
    """Catalog row indices of the evaluation people and the training pool.

    Attributes:
        eval_rows: test rows followed by validation rows.
        test_rows: first half of the seeded shuffle.
        val_rows: second half.
        train_rows: every other row, ascending.
        rule: ``"study"``, ``"stratified"`` or ``"ids_file"``.
        seed: the seed used.
        info: counts describing the selection (eligible people, per-continent sizes, ...).
    """

    eval_rows: np.ndarray
    test_rows: np.ndarray
    val_rows: np.ndarray
    train_rows: np.ndarray
    rule: str
    seed: int
    info: dict[str, Any] = field(default_factory=dict)

    def write_ids(self, catalog: Catalog, path: str | Path) -> Path:
        """Write the evaluation person ids (test then validation), one per line, to publish a split."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(f"{pid}\n" for pid in catalog.person_ids[self.eval_rows]))
        tmp.replace(path)
        return path


def eligibility_threshold(catalog: Catalog, setups: list[np.ndarray], min_valid: int | None = None) -> int:
    """``min_valid``, else the survey protocol's (200 + probes per setup for WVS-7, :mod:`ivr.protocol.resolve`)."""
    if min_valid is not None:
        return int(min_valid)
    from ivr.protocol.resolve import resolve_protocol

    cb = catalog.codebook
    return resolve_protocol(cb).min_valid_for(setups, len(cb.questions))


def eligible_mask(catalog: Catalog, setups: list[np.ndarray], min_valid: int | None = None) -> np.ndarray:
    """People valid on every probe question with enough valid answers for demonstrations.

    Args:
        catalog: the catalog.
        setups: probe question indices per setup.
        min_valid: minimum valid answers; default the protocol's (``200 + the largest setup`` = 239
            for WVS-7; probes per setup + half of the other questions for a small survey).

    Raises:
        ValueError: the catalog's answer columns do not match its codebook, or a probe question has
            no valid answer at all.
    """
    return _probe_valid(catalog, setups) & (catalog.n_valid >= eligibility_threshold(catalog, setups, min_valid))


def _probe_valid(catalog: Catalog, setups: list[np.ndarray]) -> np.ndarray:
    """People valid on every probe question of every setup."""
    cb = catalog.codebook
    n_q = len(cb.questions)
    if catalog.refined.ndim != 2 or catalog.refined.shape[1] != n_q:
        raise InputError(
            f"catalog answers have shape {catalog.refined.shape} but codebook {cb.name!r} has {n_q} questions"
        )
    probes = all_probe_questions(setups)
    if len(probes) == 0:
        raise InputError(f"codebook {cb.name!r} defines no probe questions")
    check_probe_answers(catalog, setups)  # no empty or constant probe question
    return (catalog.refined[:, probes] >= 0).all(axis=1)


def too_few_eligible(catalog: Catalog, setups: list[np.ndarray], min_valid: int, size: int, n_eligible: int) -> str:
    """Why fewer than ``size`` people are eligible, with the flag that fixes it."""
    n_q = len(catalog.codebook.questions)
    n_probe = int(_probe_valid(catalog, setups).sum())
    n_enough = int((catalog.n_valid >= min_valid).sum())
    head = (
        f"{n_eligible} of {len(catalog)} people are eligible for evaluation, {size} are asked for "
        f"(--data.split_size): {n_enough} have >= {min_valid} valid answers (--data.min_valid) and {n_probe} "
        f"answered every probe question"
    )
    if min_valid > n_q:
        return (
            f"{head}; this survey has {n_q} questions, so no one can have {min_valid}: set --data.min_valid "
            f"(at most {n_q}) or a protocol in the codebook (python -m ivr.catalog protocol CATALOG shows it)"
        )
    return (
        f"{head}; lower --data.split_size or --data.min_valid, probe fewer questions (--data.n_setups, "
        "--data.probes_per_setup), or set a protocol in the codebook"
    )


def _id_order(catalog: Catalog) -> np.ndarray:
    ids = catalog.person_ids
    keys = ids.astype(str) if ids.dtype == object else ids
    order = np.argsort(keys, kind="stable")
    sorted_ids = keys[order]
    dup = sorted_ids[1:][sorted_ids[1:] == sorted_ids[:-1]]
    if len(dup):
        raise InputError(f"catalog has duplicate person ids, e.g. {dup[:5].tolist()}")
    return order


def _values(catalog: Catalog, role: str) -> np.ndarray | None:
    demo_id = catalog.codebook.roles.get(role)
    return None if demo_id is None else catalog.demographic_values(demo_id)


def _n_valid_demographics(catalog: Catalog) -> np.ndarray:
    out = np.zeros(len(catalog), dtype=np.int64)
    for d in catalog.codebook.demographics:
        out += np.array([v is not None for v in catalog.demographic_values(d.id)], dtype=bool)
    return out


def _capped_religion_values(catalog: Catalog) -> set[str]:
    cb = catalog.codebook
    demo = cb.demographic(cb.roles["religion"])
    uncapped = WVS7_UNCAPPED_RELIGION_CODES if cb.name == "wvs7" else ()
    return {v for c, v in demo.values.items() if c not in uncapped}


def _select_study(
    catalog: Catalog,
    cand: np.ndarray,
    size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict]:
    """The study rule on eligible rows ``cand`` (already in person-id order)."""
    continent = _values(catalog, "continent")
    if continent is None:
        raise ConfigError(
            f"--data.split_rule study needs a 'continent' role in codebook {catalog.codebook.name!r}; "
            "set --data.split_rule stratified (or protocol.split_rule: stratified in the codebook)"
        )
    cont = continent[cand]
    oceania = cand[cont == EXEMPT_CONTINENT]
    info: dict[str, Any] = {"n_oceania": int(len(oceania))}
    if len(oceania) >= size:
        return rng.choice(oceania, size, replace=False), info
    others = sorted({c for c in cont if c is not None and c != EXEMPT_CONTINENT})
    if not others:
        raise ConfigError(
            f"--data.split_rule study found no eligible people outside {EXEMPT_CONTINENT}; "
            "set --data.split_rule stratified"
        )
    per = int((size - len(oceania)) / len(others)) + 1
    n_demo = len(catalog.codebook.demographics)
    min_demo = math.ceil(STUDY_DEMOGRAPHIC_FRACTION * n_demo)
    demo_ok = _n_valid_demographics(catalog)[cand] >= min_demo
    religion = _values(catalog, "religion")
    capped = _capped_religion_values(catalog) if religion is not None else set()
    pool = [oceania]
    info.update(per_continent=per, min_valid_demographics=min_demo, continents={})
    for name in others:
        rows = cand[(cont == name) & demo_ok]
        if religion is not None:
            rel = religion[rows]
            keep = np.ones(len(rows), dtype=bool)
            for value in sorted(capped):
                members = np.flatnonzero(rel == value)
                if len(members) > STUDY_RELIGION_CAP:
                    keep[members] = False
                    keep[np.sort(rng.choice(members, STUDY_RELIGION_CAP, replace=False))] = True
            rows = rows[keep]
        # sample positions, not row numbers, so the kept rows stay in person-id order
        taken = rows if len(rows) <= per else rows[np.sort(rng.choice(len(rows), per, replace=False))]
        info["continents"][name] = int(len(taken))
        pool.append(taken)
    union = np.concatenate(pool)
    if len(union) < size:
        raise ConfigError(
            f"--data.split_rule study leaves {len(union)} candidates (after the demographic filter and religion "
            f"caps), fewer than --data.split_size {size}; lower --data.split_size or set --data.split_rule stratified"
        )
    return rng.choice(union, size, replace=False), info


def _select_stratified(
    catalog: Catalog,
    cand: np.ndarray,
    size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict]:
    """Proportional stratified sample of ``cand`` by country (else continent, else one stratum)."""
    role = next((r for r in ("country", "continent") if r in catalog.codebook.roles), None)
    labels = _values(catalog, role)[cand] if role else np.full(len(cand), "all", dtype=object)
    labels = np.array(["<missing>" if v is None else str(v) for v in labels], dtype=object)
    names, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = counts * size / len(cand)
    alloc = np.floor(quota).astype(np.int64)
    # largest remainder; stable sort keeps stratum-name order among equal remainders
    rest = np.argsort(-(quota - alloc), kind="stable")[: size - int(alloc.sum())]
    alloc[rest] += 1
    picked = []
    for k in range(len(names)):
        members = cand[inverse == k]  # person-id order
        picked.append(members[np.sort(rng.choice(len(members), alloc[k], replace=False))])
    return np.concatenate(picked), {"strata_role": role, "strata": {str(n): int(a) for n, a in zip(names, alloc)}}


def read_ids_file(path: str | Path, id_column: str) -> list[str]:
    """Person ids from a ``.txt`` (one per line) or ``.jsonl`` (``id_column`` or ``person_id`` key) file."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"ids file {path} does not exist")
    ids: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"ids file {path}: not UTF-8 text ({err}); give one person id per line or JSONL") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{path}:{n}: not valid JSON: {err}") from err
            key = id_column if isinstance(rec, dict) and id_column in rec else "person_id"
            if not isinstance(rec, dict) or key not in rec:
                raise InputError(f"{path}:{n}: record has neither {id_column!r} nor 'person_id'")
            ids.append(str(rec[key]))
        else:
            ids.append(line.strip())
    if not ids:
        raise InputError(f"ids file {path} lists no person ids")
    if len(set(ids)) != len(ids):
        raise InputError(f"ids file {path} lists some person ids more than once")
    return ids


def make_split(
    catalog: Catalog,
    size: int | None = 800,
    seed: int = 0,
    rule: str | None = "study",
    ids_file: str | Path | None = None,
    setups: list[np.ndarray] | None = None,
    min_valid: int | None = None,
) -> EvalSplit:
    """Choose the evaluation people and split them into test and validation halves.

    Args:
        catalog: the catalog.
        size: number of evaluation people (ignored with ``ids_file``); None = the protocol's.
        seed: selection and halving seed.
        rule: ``"study"`` or ``"stratified"`` (see the module docstring); None = the protocol's.
        ids_file: a published list of person ids to use instead of a rule.
        setups: probe setups; default :func:`probe_setups` of the catalog's codebook (its protocol).
        min_valid: minimum valid answers for eligibility (default: the protocol's).

    Returns:
        The :class:`EvalSplit`.

    Raises:
        ValueError: unknown rule, size larger than the eligible population, ids missing from the
            catalog, or a catalog lacking probe questions.
    """
    if rule is None or size is None:
        from ivr.protocol.resolve import resolve_protocol

        protocol = resolve_protocol(catalog.codebook)
        rule = protocol.split_rule if rule is None else rule
    if rule not in RULES:
        raise ConfigError(f"--data.split_rule {rule!r}: use one of {list(RULES)}")
    setups = probe_setups(catalog.codebook) if setups is None else setups
    threshold = eligibility_threshold(catalog, setups, min_valid)
    eligible = eligible_mask(catalog, setups, threshold)
    info: dict[str, Any] = {"n_people": int(len(catalog)), "n_eligible": int(eligible.sum()), "min_valid": threshold}
    if ids_file is not None:
        ids = read_ids_file(ids_file, catalog.codebook.id_column)
        index = {str(pid): i for i, pid in enumerate(catalog.person_ids)}
        missing = [p for p in ids if p not in index]
        if missing:
            raise InputError(f"{ids_file}: {len(missing)} person id(s) are not in the catalog, e.g. {missing[:10]}")
        chosen = np.array([index[p] for p in ids], dtype=np.int64)
        info["n_not_eligible"] = int((~eligible[chosen]).sum())
        rule_name = "ids_file"
    else:
        if size is None:
            size = protocol.size_for(int(eligible.sum()))
        if size < 1:
            raise ConfigError(f"--data.split_size must be >= 1, got {size}")
        order = _id_order(catalog)
        cand = order[eligible[order]]
        if size > len(cand):
            raise ConfigError(too_few_eligible(catalog, setups, threshold, size, len(cand)))
        rng = np.random.default_rng([seed, TAG_SELECT])
        select = _select_study if rule == "study" else _select_stratified
        chosen, extra = select(catalog, cand, size, rng)
        info.update(extra)
        rule_name = rule
    order = _id_order(catalog)
    chosen = order[np.isin(order, chosen)]  # canonical person-id order before halving
    perm = np.random.default_rng([seed, TAG_HALVES]).permutation(len(chosen))
    shuffled = chosen[perm]
    n_test = (len(shuffled) + 1) // 2
    test, val = shuffled[:n_test], shuffled[n_test:]
    train = np.setdiff1d(np.arange(len(catalog)), chosen)
    return EvalSplit(np.concatenate([test, val]), test, val, train, rule_name, seed, info)
