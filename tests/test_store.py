"""Catalog folder round trip, atomic writes and demographic lookups."""

from pathlib import Path

import numpy as np
import pytest

from ivr.catalog.codebook import load_codebook
from ivr.catalog.store import Catalog, atomic_dir, load_catalog, write_catalog


def _random_catalog(n: int = 50, seed: int = 0) -> Catalog:
    cb = load_codebook("wvs7")
    rng = np.random.default_rng(seed)
    refined = np.stack([rng.integers(0, len(q.refined), n) for q in cb.questions], axis=1).astype(np.int8)
    polar = np.empty_like(refined)
    for j, q in enumerate(cb.questions):
        # refined option -> its first raw code -> polar option
        first_code = np.array([o.codes[0] for o in q.refined])
        polar[:, j] = np.vectorize(q.code_to_index("polar").get)(first_code[refined[:, j]])
    missing = rng.random(refined.shape) < 0.05
    refined[missing] = -1
    polar[missing] = -1
    demo = np.stack(
        [
            rng.choice(sorted(next(d for d in cb.demographics if d.column == c).values), n)
            for c in cb.demographic_columns
        ],
        axis=1,
    ).astype(np.int32)
    demo[:3, 1] = -1
    return Catalog(cb, np.arange(1000, 1000 + n, dtype=np.int64), polar, refined, demo)


def test_round_trip(tmp_path: Path) -> None:
    cat = _random_catalog()
    out = write_catalog(cat, tmp_path / "cat", source="unit-test")
    back = load_catalog(out)
    assert np.array_equal(back.polar, cat.polar)
    assert np.array_equal(back.refined, cat.refined)
    assert np.array_equal(back.demographics, cat.demographics)
    assert np.array_equal(back.person_ids, cat.person_ids)
    assert back.manifest["rows"] == 50 and back.manifest["codebook"] == "wvs7"
    assert back.manifest["codebook_hash"] == cat.codebook.hash == back.codebook.hash
    frame = cat.to_frame()
    assert frame["Q1_polar"].dtype == np.int8 and frame["Q1_refined"].dtype == np.int8
    assert frame.columns[0] == "D_INTERVIEW"


def test_groups_and_statements() -> None:
    cat = _random_catalog()
    sex = cat.groups("Sex")
    assert sex[0] is None  # column 1 (Q260) was blanked for the first rows
    assert set(sex[3:]) <= set(cat.codebook.demographic("Q260").values.values())
    continent = cat.groups("Continent")
    assert set(continent) <= {"Africa", "Asia", "Europe", "North America", "Oceania", "South America"}
    stmts = cat.demographic_statements("B_COUNTRY")
    assert all(isinstance(s, str) and len(s) > 3 for s in stmts)
    with pytest.raises(KeyError, match="not defined by codebook"):
        cat.groups("Shoe size")


def test_atomic_dir_leaves_nothing_on_error(tmp_path: Path) -> None:
    def broken(tmp: Path) -> None:
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_dir(tmp_path / "out", broken)
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_its_own_earlier_output(tmp_path: Path) -> None:
    atomic_dir(tmp_path / "out", lambda t: (t / "a.txt").write_text("1"))
    atomic_dir(tmp_path / "out", lambda t: (t / "b.txt").write_text("2"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".ivr-output.json", "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (tmp_path / "out" / "mine.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match="mine.txt"):
        atomic_dir(tmp_path / "out", lambda t: (t / "c.txt").write_text("3"))
    assert (tmp_path / "out" / "b.txt").read_text() == "2" and (tmp_path / "out" / "mine.txt").is_file()


def test_load_rejects_non_catalog(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing catalog.parquet"):
        load_catalog(tmp_path)


def test_write_catalog_refuses_unrelated_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="files ivr did not write"):
        write_catalog(_random_catalog(5), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
