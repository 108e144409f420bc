"""Probe setups (Table 12) and the evaluation split rules."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ivr.catalog.codebook import load_codebook
from ivr.catalog.store import Catalog
from ivr.paper import load_paper
from ivr.protocol.probes import all_probe_questions, probe_setups
from ivr.protocol.splits import eligible_mask, make_split


@pytest.fixture(scope="module")
def wvs7():
    return load_codebook("wvs7")


def random_catalog(codebook, n: int, seed: int = 0, p_missing: float = 0.03, oceania_share: float = 0.05) -> Catalog:
    """People with random valid answers, a few missing, and random demographics."""
    rng = np.random.default_rng(seed)
    n_ref = np.array(codebook.n_options("refined"))
    refined = (rng.random((n, len(n_ref))) * n_ref).astype(np.int8)
    # per-person missingness: most people answer everything, some skip a few or many questions
    rate = rng.choice([0.0, p_missing, 0.3], size=(n, 1), p=[0.6, 0.3, 0.1])
    refined[rng.random(refined.shape) < rate] = -1
    polar = np.full_like(refined, -1)
    for j, q in enumerate(codebook.questions):
        ref_to_pol = np.array([q.code_to_index("polar")[o.codes[0]] for o in q.refined], dtype=np.int8)
        ok = refined[:, j] >= 0
        polar[ok, j] = ref_to_pol[refined[ok, j]]
    demos = np.full((n, len(codebook.demographic_columns)), -1, dtype=np.int32)
    for c, col in enumerate(codebook.demographic_columns):
        demo = next(d for d in codebook.demographics if d.column == col)
        codes = np.array(sorted(demo.values))
        demos[:, c] = rng.choice(codes, n)
    demos[rng.random(demos.shape) < p_missing] = -1
    cont = next(d for d in codebook.demographics if d.id == codebook.roles.get("continent"))
    country_col = codebook.demographic_columns.index(cont.column)
    oce = np.array([c for c, v in cont.values.items() if v == "Oceania"])
    rest = np.array([c for c, v in cont.values.items() if v != "Oceania"])
    is_oce = rng.random(n) < oceania_share
    demos[:, country_col] = np.where(is_oce, rng.choice(oce, n), rng.choice(rest, n))
    ids = rng.permutation(10 * n)[:n].astype(np.int64) + 1000
    return Catalog(codebook, ids, polar, refined, demos)


def test_table12_shape(wvs7):
    setups = probe_setups(wvs7)
    assert [len(s) for s in setups] == [39, 39, 39]
    assert len(all_probe_questions(setups)) == 108


def test_table12_exact(wvs7):
    table = load_paper()["table12_probe_setups"]  # the packaged copy of the paper's figures
    setups = probe_setups(wvs7)
    for s in range(3):
        expected = [f"Q{n}" for cat in wvs7.categories for n in table[cat][s]]
        assert [wvs7.question_ids[i] for i in setups[s]] == expected


def test_setup_rule_wraps_small_categories(wvs7):
    setups = probe_setups(wvs7, n_setups=4, per_category=2)
    by_cat = {c: [i for i, q in enumerate(wvs7.questions) if q.category == c] for c in wvs7.categories}
    econ = by_cat["Economic Values"]  # 6 questions: setup 3 -> positions 6, 7 -> 0, 1
    assert [i for i in setups[3] if i in econ] == econ[:2]


@pytest.fixture(scope="module")
def catalog(wvs7):
    return random_catalog(wvs7, 3000, seed=1)


def test_study_split_rules(catalog):
    split = make_split(catalog, size=300, seed=0)
    setups = probe_setups(catalog.codebook)
    elig = eligible_mask(catalog, setups)
    assert len(split.eval_rows) == 300 and len(set(split.eval_rows.tolist())) == 300
    assert elig[split.eval_rows].all()
    probes = all_probe_questions(setups)
    assert (catalog.refined[np.ix_(split.eval_rows, probes)] >= 0).all()
    assert (catalog.n_valid[split.eval_rows] >= 239).all()
    # halves and training pool partition the catalog
    assert len(split.test_rows) == len(split.val_rows) == 150
    assert np.array_equal(split.eval_rows, np.concatenate([split.test_rows, split.val_rows]))
    everything = np.sort(np.concatenate([split.eval_rows, split.train_rows]))
    assert np.array_equal(everything, np.arange(len(catalog)))
    # every eligible Oceania person enters the union; the final draw of 300 from it drops few
    cont = catalog.demographic_values("B_COUNTRY_to_continent")
    oce = np.flatnonzero(elig & (cont == "Oceania"))
    assert 0 < len(oce) == split.info["n_oceania"] < 300
    union = len(oce) + sum(split.info["continents"].values())
    assert np.isin(oce, split.eval_rows).sum() >= len(oce) - (union - 300)
    # other continents: at least 24 valid demographics
    others = split.eval_rows[cont[split.eval_rows] != "Oceania"]
    n_demo = sum(
        np.array([v is not None for v in catalog.demographic_values(d.id)]) for d in catalog.codebook.demographics
    )
    assert (n_demo[others] >= 24).all()
    assert split.info["per_continent"] == int((300 - len(oce)) / 5) + 1


def test_split_seeded_and_row_order_free(catalog):
    a = make_split(catalog, size=200, seed=3)
    b = make_split(catalog, size=200, seed=3)
    assert np.array_equal(a.eval_rows, b.eval_rows)
    c = make_split(catalog, size=200, seed=4)
    assert not np.array_equal(np.sort(a.eval_rows), np.sort(c.eval_rows))
    perm = np.random.default_rng(9).permutation(len(catalog))
    shuffled = catalog.subset(perm)
    d = make_split(shuffled, size=200, seed=3)
    assert np.array_equal(catalog.person_ids[a.test_rows], shuffled.person_ids[d.test_rows])
    assert np.array_equal(catalog.person_ids[a.val_rows], shuffled.person_ids[d.val_rows])


def test_religion_cap(wvs7):
    cat = random_catalog(wvs7, 4000, seed=2, p_missing=0.0, oceania_share=0.0)
    rel_col = wvs7.demographic_columns.index("Q289")
    cat.demographics[:, rel_col] = 5  # everyone Muslim -> at most 80 per continent
    split = make_split(cat, size=300, seed=0)
    cont = cat.demographic_values("B_COUNTRY_to_continent")[split.eval_rows]
    assert max(np.unique(cont, return_counts=True)[1]) <= 80
    with pytest.raises(ValueError, match="fewer than --data.split_size 500; lower --data.split_size"):
        make_split(cat, size=500, seed=0)


def test_stratified_split(catalog):
    split = make_split(catalog, size=250, seed=0, rule="stratified")
    assert len(split.eval_rows) == 250
    country = catalog.demographic_values("B_COUNTRY")
    elig = eligible_mask(catalog, probe_setups(catalog.codebook))
    names, counts = np.unique(country[elig].astype(str), return_counts=True)
    got = dict(zip(*np.unique(country[split.eval_rows].astype(str), return_counts=True)))
    for name, count in zip(names, counts):  # proportional within one person per stratum
        assert abs(got.get(name, 0) - count * 250 / elig.sum()) < 1.0 + 1e-9
    assert np.array_equal(make_split(catalog, 250, 0, "stratified").eval_rows, split.eval_rows)


def test_ids_file(catalog, tmp_path):
    ids = catalog.person_ids[[5, 17, 42, 8]]
    txt = tmp_path / "ids.txt"
    txt.write_text("\n".join(map(str, ids)) + "\n")
    split = make_split(catalog, ids_file=txt)
    assert sorted(split.eval_rows.tolist()) == [5, 8, 17, 42] and split.rule == "ids_file"
    jl = tmp_path / "ids.jsonl"
    jl.write_text("".join(json.dumps({"D_INTERVIEW": int(i)}) + "\n" for i in ids))
    assert np.array_equal(make_split(catalog, ids_file=jl).eval_rows, split.eval_rows)
    txt.write_text("\n".join(map(str, ids)) + "\n99999999\n")
    with pytest.raises(ValueError, match="99999999"):
        make_split(catalog, ids_file=txt)
    out = split.write_ids(catalog, tmp_path / "published.txt")
    assert np.array_equal(make_split(catalog, ids_file=out).eval_rows, split.eval_rows)


def test_bad_inputs(catalog, wvs7):
    with pytest.raises(ValueError, match="people are eligible for evaluation.*--data.split_size"):
        make_split(catalog, size=len(catalog) + 1)
    with pytest.raises(ValueError, match="--data.split_rule .*use one of"):
        make_split(catalog, rule="nope")
    broken = catalog.subset(np.arange(len(catalog)))
    broken.refined = broken.refined.copy()
    broken.refined[:, probe_setups(wvs7)[1][4]] = -1
    with pytest.raises(ValueError, match="lacks probe question.*no valid answer.*drop the question"):
        make_split(broken, size=10)
