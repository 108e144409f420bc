"""Demonstration sampling: pure, order-free, both exclusion rules; probe targets."""

from __future__ import annotations

import numpy as np
import pytest

from ivr.catalog.codebook import load_codebook
from ivr.catalog.store import Catalog
from ivr.protocol.probes import probe_setups
from ivr.protocol.sampling import demo_candidates, demo_count, demo_exclusion, probe_targets, sample_demos

SEED = 7


def _draw(valid: np.ndarray, ids: np.ndarray, people: np.ndarray, setup_probes: np.ndarray, epoch: int) -> dict:
    out = {}
    for p in people:
        d = demo_count("mixed", SEED, int(ids[p]), 1, epoch)
        out[int(ids[p])] = sample_demos(valid[p], setup_probes, d, SEED, int(ids[p]), 1, epoch)
    return out


@pytest.fixture(scope="module")
def population():
    rng = np.random.default_rng(0)
    valid = rng.random((60, 253)) < 0.9
    ids = rng.permutation(10_000)[:60] + 1
    return valid, ids, probe_setups(load_codebook("wvs7"))[1]


def test_independent_of_order_and_workers(population):
    valid, ids, probes = population
    people = np.arange(len(ids))
    ref = _draw(valid, ids, people, probes, epoch=2)
    backwards = _draw(valid, ids, people[::-1], probes, epoch=2)
    worker0 = _draw(valid, ids, people[0::2], probes, epoch=2)
    worker1 = _draw(valid, ids, people[1::2], probes, epoch=2)
    merged = {**worker0, **worker1}
    for pid, demos in ref.items():
        assert np.array_equal(demos, backwards[pid]) and np.array_equal(demos, merged[pid])
    other_epoch = _draw(valid, ids, people, probes, epoch=3)
    assert any(not np.array_equal(ref[p], other_epoch[p]) for p in ref)


def test_demos_valid_excluded_unique(population):
    valid, ids, probes = population
    for p in range(10):
        demos = sample_demos(valid[p], probes, 200, SEED, int(ids[p]), 0, 0)
        assert len(demos) == len(set(demos.tolist())) == min(200, len(demo_candidates(valid[p], probes, None, "setup")))
        assert valid[p, demos].all() and not np.isin(demos, probes).any()


def test_fewer_candidates_takes_all():
    valid = np.zeros(253, dtype=bool)
    valid[[3, 10, 50, 99, 120]] = True
    demos = sample_demos(valid, np.array([10]), 200, 0, 42, 0, 0)
    assert sorted(demos.tolist()) == [3, 50, 99, 120]


def test_exclusion_rules():
    valid = np.ones(20, dtype=bool)
    valid[5] = False
    setup = np.array([1, 2, 3])
    assert demo_candidates(valid, setup, 2, "setup").tolist() == [0, 4] + list(range(6, 20))
    assert demo_candidates(valid, setup, 2, "probe").tolist() == [0, 1, 3, 4] + list(range(6, 20))
    with pytest.raises(ValueError, match="probe_q"):
        demo_exclusion(setup, None, "probe")
    with pytest.raises(ValueError, match="unknown demonstration exclusion rule"):
        demo_candidates(valid, setup, 2, "nope")


def test_demo_count():
    assert demo_count("200", 0, 1, 0, 0) == 200 and demo_count(75, 0, 1, 0, 0) == 75
    mixed = [demo_count("mixed", 0, p, s, e) for p in range(200) for s in (-1, 0, 1) for e in (0, 1)]
    assert min(mixed) >= 50 and max(mixed) <= 200 and len(set(mixed)) > 50
    assert demo_count("mixed", 3, 11, -1, 4) == demo_count("mixed", 3, 11, -1, 4)
    assert 100 <= demo_count("rand", 0, 5, 0, 0) <= 200
    with pytest.raises(ValueError, match="unknown demonstration count"):
        demo_count("lots", 0, 1, 0, 0)


def test_string_ids_and_tags():
    valid = np.ones(100, dtype=bool)
    a = sample_demos(valid, np.array([0]), 10, 1, "abc-1", 0, 0)
    assert np.array_equal(a, sample_demos(valid, np.array([0]), 10, 1, "abc-1", 0, 0))
    assert not np.array_equal(a, sample_demos(valid, np.array([0]), 10, 1, "abc-1", 0, 0, tag=1))


def test_probe_targets():
    cb = load_codebook("wvs7")
    polar = np.zeros((3, len(cb.questions)), dtype=np.int8)
    polar[1, 4] = -1
    polar[2, 5] = 1
    cat = Catalog(cb, np.array([10, 11, 12]), polar, polar.copy(), np.zeros((3, len(cb.demographic_columns)), np.int32))
    t = probe_targets(cat, np.array([1, 2]), np.array([4, 5]), "polar")
    assert t.targets.tolist() == [[-1, 0], [0, 1]] and t.n_unanswered == 1
    assert t.answered.tolist() == [[False, True], [True, True]]
