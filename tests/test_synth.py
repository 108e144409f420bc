"""Synthetic population: determinism, schema, missingness, exact Bayes predictor, catalog resolution."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ivr.catalog.codebook import load_codebook
from ivr.catalog.resolve import parse_synthetic_spec, resolve_catalog
from ivr.catalog.store import Catalog, load_catalog
from ivr.catalog.synth import SynthModel, build_synthetic, synthesize
from ivr.metrics import evaluate_predictions
from ivr.predict.bayes import bayes_predictions
from ivr.protocol.probes import probe_setups
from ivr.protocol.splits import make_split


@pytest.fixture(scope="module")
def small() -> tuple[Catalog, SynthModel]:
    return synthesize(2000, seed=0)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_synthetic(tmp_path_factory.mktemp("synth") / "cat", 300, seed=3)


def _digest(path: Path) -> str:
    return hashlib.sha256((path / "catalog.parquet").read_bytes()).hexdigest()


def test_same_seed_gives_byte_identical_parquet(built: Path, tmp_path: Path) -> None:
    again = build_synthetic(tmp_path / "again", 300, seed=3)
    assert _digest(built) == _digest(again)
    assert (again / "synth_model.npz").read_bytes() == (built / "synth_model.npz").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_schema_matches_a_converted_catalog(built: Path) -> None:
    cb = load_codebook("wvs7")
    frame = load_catalog(built).to_frame()
    empty = Catalog(
        cb,
        np.zeros(0, np.int64),
        np.zeros((0, 253), np.int8),
        np.zeros((0, 253), np.int8),
        np.zeros((0, len(cb.demographic_columns)), np.int32),
    ).to_frame()
    assert list(frame.columns) == list(empty.columns)
    assert list(frame.dtypes) == list(empty.dtypes)
    manifest = load_catalog(built).manifest
    assert manifest["source"] == "synthetic" and manifest["seed"] == 3 and manifest["rows"] == 300


def test_answers_valid_and_consistent(small: tuple[Catalog, SynthModel]) -> None:
    cat, _ = small
    cb = cat.codebook
    assert len(cat) == 2000 and len(np.unique(cat.person_ids)) == 2000
    assert ((cat.polar >= 0) == (cat.refined >= 0)).all()
    for form, answers in (("polar", cat.polar), ("refined", cat.refined)):
        assert (answers.max(axis=0) < np.array(cb.n_options(form))).all()
    # polar is the refined option's polar group
    for j, q in enumerate(cb.questions):
        ref_to_pol = {q.code_to_index("refined")[c]: q.code_to_index("polar")[c] for c in q.codes}
        ok = cat.refined[:, j] >= 0
        assert (np.vectorize(ref_to_pol.get)(cat.refined[ok, j]) == cat.polar[ok, j]).all()


def test_missingness_and_demographics_look_like_the_survey(small: tuple[Catalog, SynthModel]) -> None:
    cat, _ = small
    nv = cat.n_valid
    assert 236 <= nv.mean() <= 248 and 10 <= nv.std() <= 25
    assert 0.08 <= (nv == 253).mean() <= 0.3
    continents = set(cat.demographic_values("B_COUNTRY_to_continent"))
    assert len(continents) == 6 and len(np.unique(cat.demographic_codes("B_COUNTRY"))) >= 60
    for demo in cat.codebook.demographics:  # every observed code is one the codebook knows
        codes = cat.demographic_codes(demo.id)
        assert set(codes[codes >= 0].tolist()) <= set(demo.values), demo.id
    # realistic dependence: the oldest are more often widowed than the youngest
    age, marital = cat.demographic_codes("X003R"), cat.demographic_codes("Q273")
    assert (marital[age == 6] == 5).mean() > (marital[age == 1] == 5).mean() + 0.1


def test_posterior_sums_to_one_and_uses_demonstrations(small: tuple[Catalog, SynthModel]) -> None:
    cat, model = small
    rows = np.arange(0, 2000, 200)
    probes = probe_setups(cat.codebook)[0]
    demos = [np.setdiff1d(np.arange(253), probes)[:150]] * len(rows)
    for form in ("polar", "refined"):
        post = model.posterior(cat, rows, demos, probes, form, use_demographics=True)
        assert post.shape == (len(rows), len(probes), max(cat.codebook.n_options(form)))
        np.testing.assert_allclose(post.sum(axis=2), 1.0, atol=1e-9)
        n_opt = np.array(cat.codebook.n_options(form))[probes]
        assert (post >= 0).all()
        assert (post[:, np.arange(post.shape[2])[None] >= n_opt[:, None]] == 0).all()  # padding
    prior_only = model.posterior(cat, rows, [np.zeros(0, np.int64)] * len(rows), probes, "polar")
    assert np.allclose(prior_only, prior_only[:1])  # no demos, no demographics: same for everyone
    assert not np.allclose(model.posterior(cat, rows, demos, probes, "polar"), prior_only)


def test_model_round_trips_through_the_catalog_folder(built: Path) -> None:
    cat = load_catalog(built)
    model = SynthModel.load(built)
    rows = np.arange(5)
    post = model.posterior(cat, rows, [np.arange(100)] * 5, np.arange(200, 210), "refined")
    np.testing.assert_allclose(post.sum(axis=2), 1.0, atol=1e-9)
    with pytest.raises(FileNotFoundError, match="synth_model.npz"):
        SynthModel.load(built.parent)


def test_bayes_beats_every_baseline(small: tuple[Catalog, SynthModel]) -> None:
    # the real baselines package under the real protocol (stratified 100-person split, 3 setups)
    from baselines.run import BaselineConfig, run_baselines

    cat, model = small
    split = make_split(cat, size=100, seed=0, rule="stratified")
    results = run_baselines(cat, split, BaselineConfig(pools=("all",), bootstrap=0, progress=False))
    setups = dict(enumerate(probe_setups(cat.codebook)))
    preds = bayes_predictions(cat, model, split.eval_rows, setups, ["polar", "refined"], 200, 0)
    bayes = evaluate_predictions(preds, cat, bootstrap=0).table3_row()
    for name, row in results.rows.items():
        assert bayes["all"] > row["all"], (name, row["all"], bayes["all"])
    assert bayes["all"] > results.rows["Global (majority vote)"]["all"] + 3


def test_resolve_builds_once_then_reuses(tmp_path: Path) -> None:
    path = resolve_catalog("synthetic:people=200,seed=2", cache_dir=tmp_path)
    assert path == tmp_path / "synthetic-p200-s2"
    assert (path / "synth_model.npz").exists() and len(load_catalog(path)) == 200
    stamp = (path / "catalog.parquet").stat().st_mtime_ns
    assert resolve_catalog("synthetic:people=200,seed=2", cache_dir=tmp_path) == path
    assert (path / "catalog.parquet").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert resolve_catalog(str(path)) == path


def test_resolve_errors(tmp_path: Path) -> None:
    for bad in ("synthetic:", "synthetic:people=ten", "synthetic:people=5,sed=1", "synthetic:seed=1"):
        with pytest.raises(ValueError, match="synthetic:people=N"):
            resolve_catalog(bad, cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_catalog(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="missing catalog.parquet"):
        resolve_catalog(str(tmp_path))
    assert parse_synthetic_spec("synthetic:people=93279") == (93279, 0)


def test_bayes_reads_the_data_modules_demonstrations(small: tuple[Catalog, SynthModel], tmp_path: Path) -> None:
    """The Bayes ceiling sees what the reasoner's evaluation data sets show, in every view (eval_forms: all)."""
    from ivr.catalog.codebook import FORMS
    from ivr.catalog.store import write_catalog
    from ivr.data.datamodule import IVRDataModule

    cat, model = small
    folder = write_catalog(cat, tmp_path / "cat", source="synthetic")
    dm = IVRDataModule(
        catalog=str(folder),
        n_per_question=1,
        split_size=20,
        split_rule="stratified",
        eval_demo_count="mixed",
        eval_forms="all",
        limit_eval_people=3,
        cache_dir=str(tmp_path),
        seed=4,
        check_tokenization=False,
    )
    dm.setup("test")
    rows = np.asarray(dm.split.test_rows)[:3]
    setups = dict(enumerate(dm.setups))
    by_view = {}
    for view in dm.eval_views:
        dm.set_eval_view(view)
        preds = bayes_predictions(cat, model, rows, setups, list(FORMS), "mixed", dm.hparams.seed, view=view)
        groups: dict[tuple[int, int], list] = {}
        for i in range(len(dm._test)):
            ex = dm._test.example(i)
            groups.setdefault((ex.setup, int(ex.probe_forms[0])), []).append(ex)
        for (setup, form), exs in groups.items():
            assert len({ex.demo_form for ex in exs}) == 1
            post = model.posterior(
                cat,
                [ex.row for ex in exs],
                [ex.demo_questions for ex in exs],
                setups[setup],
                FORMS[form],
                demo_form=FORMS[exs[0].demo_form],
            )
            for ex, p in zip(exs, post):
                keep = (preds.person == ex.row) & (preds.setup == setup) & (preds.form == form)
                assert np.array_equal(preds.question[keep], ex.probe_questions)
                np.testing.assert_array_equal(preds.pred[keep], p.argmax(axis=1))
        by_view[view] = preds
    # crossed reads the other form's statements: some predictions change
    assert (by_view["matched"].pred != by_view["crossed"].pred).any()


def test_catalog_layer_imports_neither_sampling_nor_metrics() -> None:
    """The Bayes predictor lives with the predictors (baselines/): the catalog layer stays below ivr.protocol and ivr.data."""
    import subprocess
    import sys

    code = (
        "import sys, ivr.catalog.synth, ivr.catalog.store, ivr.catalog.convert, ivr.catalog.resolve; "
        "bad = sorted(m for m in sys.modules if m.startswith(('ivr.data', 'ivr.protocol', 'ivr.metrics', 'baselines'))); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_profile_oracle_counts_each_profiles_members(small: tuple[Catalog, SynthModel]) -> None:
    """The profile oracle puts every training person in their most probable profile given all of their
    answers and counts each profile's probabilities from its members plus 4 marginal pseudo-answers (checked
    by hand for the largest profile); shuffled catalog rows give the same model."""
    from baselines.latent_class import profile_oracle_model
    from ivr.errors import ConfigError

    cat, truth = small
    train = np.arange(0, 1500)
    oracle = profile_oracle_model(cat, truth, train)
    answered = [np.flatnonzero(cat.refined[r] >= 0) for r in train]
    assign = truth.log_posterior(cat, train, answered, demo_form="refined").argmax(axis=1)
    k = int(np.bincount(assign).argmax())
    members = train[assign == k]
    assert len(members) >= 3
    share = np.exp(oracle.marginal_logprior)
    assert share[k] == pytest.approx((len(members) + 1) / (len(train) + truth.n_profiles), rel=1e-5)
    n_opt = cat.codebook.n_options("refined")
    for q in (0, 7, 100):
        n = n_opt[q]
        everyone = cat.refined[train, q]
        marginal = (np.bincount(everyone[everyone >= 0], minlength=n) + 1.0) / ((everyone >= 0).sum() + n)
        mine = cat.refined[members, q]
        expected = (np.bincount(mine[mine >= 0], minlength=n) + 4.0 * marginal) / ((mine >= 0).sum() + 4.0)
        np.testing.assert_allclose(oracle.option_probs("refined")[k, q, :n], expected, rtol=1e-5)
    perm = np.random.default_rng(1).permutation(len(cat))
    shuffled = cat.subset(perm)
    again = profile_oracle_model(shuffled, truth, np.flatnonzero(np.isin(perm, train)))
    np.testing.assert_array_equal(again.code_probs, oracle.code_probs)
    with pytest.raises(ConfigError, match="pseudo_people"):
        profile_oracle_model(cat, truth, train, pseudo_people=0)
