"""Study-faithful recipes: units and exact shares, evaluation forms, one demonstration rule, describe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ivr.data.datamodule import IVRDataModule
from ivr.data.fixtures import tiny_datamodule
from ivr.protocol.conventions import ConventionError, combinations
from ivr.protocol.units import Unit, UnitError, allocate, legacy_units, parse_units

M8 = ["pmixed_p1", "rmixed_p1", "pmixed_r1", "rmixed_r1", "p200_p1", "r200_p1", "p200_r1", "r200_r1"]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recipes")


def test_unit_names_mappings_and_mixtures() -> None:
    assert parse_units("p200_p1-r200_p1-p200_r1-r200_r1") == (
        Unit("polar", "200", "polar"),
        Unit("refined", "200", "polar"),
        Unit("polar", "200", "refined"),
        Unit("refined", "200", "refined"),
    )
    demo, mixed, explicit = parse_units(
        [{"unit": "demo_r1", "share": 3}, "rmixed_r1", {"demo_form": "p", "demo_count": 50, "probe_form": "refined"}]
    )
    assert (demo.demo_form, demo.probe_form, demo.share, demo.name) == ("demographics", "refined", 3, "demo_r1")
    assert (mixed.demo_form, mixed.demo_count, mixed.probe_form) == ("refined", "mixed", "refined")
    assert explicit.name == "p50_r1" and explicit.describe_demos() == "polar, 50"
    assert mixed.describe_demos() == "refined, 50-200 (mixed)"
    # the shorthand keys: demonstration form fastest, then probe form, then count (the study's names)
    assert [u.name for u in legacy_units("mixed+200", "p+r", "p+r")] == M8
    assert [u.name for u in legacy_units("mixed", "r", "polar")] == ["pmixed_r1"]
    assert [u.name for u in legacy_units("200", "p+r", "polar", demographics="only")] == ["demo_p1", "demo_r1"]
    for bad, match in [
        ("p200_x1", "unit 'p200_x1'"),
        (["p200_p1", "p200_p1"], "more than once"),
        ([{"unit": "p200_p1", "share": 0}], "share=0"),
        ([{"unit": "p1", "sharp": 1}], "sharp"),
        ([], "at least one unit"),
    ]:
        with pytest.raises(UnitError, match=match):
            parse_units(bad)
    assert allocate(30, [1, 1, 1, 1]).tolist() == [8, 8, 7, 7] and allocate(7, [2, 1]).tolist() == [5, 2]


def test_units_and_shorthand_are_exclusive(work: Path) -> None:
    with pytest.raises(UnitError, match="data.units and data.demo_count"):
        tiny_datamodule(work, units=["p200_p1"], demo_count="200")
    with pytest.raises(UnitError, match="unit 'x'"):
        tiny_datamodule(work, units=["x"])


def _unit_of_examples(dm: IVRDataModule) -> list[tuple[str, int, int]]:
    out = []
    for i in range(len(dm._train)):
        ex, u = dm._train.example(0, i), dm._train.unit(i)
        out.append((u.name, int(ex.demo_form), int(ex.probe_forms[0])))
        if u.demographics_only:
            assert len(ex.demo_questions) == 0 and len(ex.demographics) > 0
        else:
            assert ex.demo_form == ("polar", "refined").index(u.demo_form) and len(ex.demographics) == 0
            assert ex.demos_requested == 200 if u.demo_count == "200" else 50 <= ex.demos_requested <= 200
        assert ex.probe_forms[0] == ("polar", "refined").index(u.probe_form)
    return out


def test_exact_unit_shares_per_question(work: Path) -> None:
    """N = 16 over the eight Table-3 units: exactly 2 per unit and question; 2:2:1:1:1:1 shares exactly too."""
    dm = tiny_datamodule(work, units=M8, n_per_question=16, probes_per_sequence=1)
    dm.setup("fit")
    counts = dm._train.unit_counts()
    assert counts.shape == (253, 8) and (counts == 2).all()
    _unit_of_examples(dm)
    # deterministic given the seed, independent of enumeration; a different seed assigns other people
    again = tiny_datamodule(work, units=M8, n_per_question=16, probes_per_sequence=1)
    again.setup("fit")
    assert all(np.array_equal(a, b) for a, b in zip(dm._train.unit_of, again._train.unit_of))
    other = tiny_datamodule(work, units=M8, n_per_question=16, probes_per_sequence=1, seed=1)
    other.setup("fit")
    assert any(not np.array_equal(a, b) for a, b in zip(dm._train.unit_of, other._train.unit_of))
    # people keep their unit over epochs, their demonstrations are redrawn
    e0, e1 = dm._train.example(0, 5), dm._train.example(1, 5)
    assert (
        e0.row == e1.row and e0.demo_form == e1.demo_form and not np.array_equal(e0.demo_questions, e1.demo_questions)
    )
    table4 = tiny_datamodule(
        work,
        n_per_question=8,
        probes_per_sequence=1,
        units=[
            {"unit": "demo_p1", "share": 2},
            {"unit": "demo_r1", "share": 2},
            "p200_p1",
            "r200_p1",
            "p200_r1",
            "r200_r1",
        ],
    )
    table4.setup("fit")
    assert (table4._train.unit_counts() == [2, 2, 1, 1, 1, 1]).all()  # 400 + 400 at N = 800, scaled to 8
    _unit_of_examples(table4)
    # the shorthand mixed+200 x p+r no longer flips coins: exact halves per question
    legacy = tiny_datamodule(
        work, demo_count="mixed+200", probe_form="p+r", demo_form="polar", n_per_question=8, probes_per_sequence=1
    )
    legacy.setup("fit")
    assert [u.name for u in legacy.units] == ["pmixed_p1", "pmixed_r1", "p200_p1", "p200_r1"]
    assert (legacy._train.unit_counts() == 2).all()


@pytest.mark.parametrize("eval_forms", ["matched", "crossed", "polar", "refined", "all"])
@pytest.mark.parametrize("packed", [True, False])
def test_eval_form_combinations_as_configured(work: Path, eval_forms: str, packed: bool) -> None:
    dm = tiny_datamodule(work, eval_forms=eval_forms, eval_packed=packed, limit_eval_people=1)
    dm.setup("fit")
    seen: set[tuple[int, int]] = set()
    for view in dm.eval_views:
        dm.set_eval_view(view)
        demos: dict[tuple[int, int], np.ndarray] = {}
        for i in range(len(dm._test)):
            ex = dm._test.example(i)
            seen |= {(int(ex.demo_form), int(f)) for f in ex.probe_forms}
            # the shown statements are the person's answers in the demonstration form
            assert np.array_equal(ex.demo_options, dm.table.answers[ex.demo_form, ex.row, ex.demo_questions])
            # the same demonstration questions for both forms (and every probe) of a person and setup
            prev = demos.setdefault((ex.row, ex.setup), ex.demo_questions)
            assert np.array_equal(prev, ex.demo_questions)
    assert seen == combinations(eval_forms)
    assert len(seen) == (4 if eval_forms == "all" else 2)
    with pytest.raises(ConventionError, match="evaluates"):
        dm.set_eval_view("sideways")


def test_one_demonstration_rule_packed_and_unpacked(work: Path) -> None:
    packed = tiny_datamodule(work, limit_eval_people=2)
    single = tiny_datamodule(work, limit_eval_people=2, eval_packed=False)
    study = tiny_datamodule(work, limit_eval_people=2, eval_packed=False, eval_demo_rule="probe")
    for d in (packed, single, study):
        d.setup("fit")
    shown = {}
    for i in range(len(packed._val)):
        ex = packed._val.example(i)
        assert not np.isin(ex.demo_questions, packed.setups[ex.setup]).any()
        shown[(ex.row, ex.setup)] = ex.demo_questions
    leaked = 0
    for i in range(len(single._val)):
        ex, ref = single._val.example(i), study._val.example(i)
        assert not np.isin(ex.demo_questions, single.setups[ex.setup]).any()  # no probe of the setup
        assert np.array_equal(ex.demo_questions, shown[(ex.row, ex.setup)])  # = the packed prefix's statements
        assert (ref.row, ref.setup, ref.probe_questions[0]) == (ex.row, ex.setup, ex.probe_questions[0])
        assert ref.probe_questions[0] not in ref.demo_questions  # the study's rule leaves out only the probe
        leaked += int(np.isin(ref.demo_questions, study.setups[ref.setup]).any())
    assert leaked > 0  # ... so other probes of the setup do appear under it
    with pytest.raises(ConventionError, match="eval_packed: false"):
        tiny_datamodule(work, eval_demo_rule="probe")
    with pytest.raises(ConventionError, match="eval_forms: polar or refined"):
        tiny_datamodule(work, eval_pack_forms=True)


def test_describe_prints_exact_unit_table(work: Path, capsys: pytest.CaptureFixture) -> None:
    from ivr.data.__main__ import main

    dm = tiny_datamodule(work)
    cfg = work / "describe.yaml"
    cfg.write_text(
        f"data:\n  catalog: {dm.hparams.catalog}\n  cache_dir: {work / 'cache'}\n  split_size: 20\n"
        "  n_per_question: 10\n  units: [{unit: demo_p1, share: 2}, p200_p1, rmixed_r1]\n"
        "  eval_forms: all\n"
    )
    assert main(["describe", "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    # 10 per question split 2:1:1 = 5 / 3 / 2 (largest remainder), over 253 questions of 280 training people
    assert lines["demo_p1"][-2:] == ["5", "1,265"] and lines["p200_p1"][-2:] == ["3", "759"]
    assert lines["rmixed_r1"][-2:] == ["2", "506"] and lines["total"][-2:] == ["10", "2,530"]
    assert "refined, 50-200 (mixed)" in text and "catalog " in text and "not opened" not in text
    assert "[matched] polar probes with polar demonstrations" in text
    assert "[crossed] polar probes with refined demonstrations" in text


def test_training_and_evaluation_draws_ignore_catalog_row_order(work: Path) -> None:
    """The same people in another row order: the same people per question and unit, the same demonstrations."""
    from ivr.catalog.store import load_catalog, write_catalog

    dm = tiny_datamodule(work, units=M8, n_per_question=16, probes_per_sequence=1)
    dm.setup("fit")
    cat = load_catalog(dm.hparams.catalog)
    perm = np.random.default_rng(3).permutation(len(cat))
    folder = write_catalog(cat.subset(perm), work / "shuffled", source="test")
    other = tiny_datamodule(work, catalog=str(folder), units=M8, n_per_question=16, probes_per_sequence=1)
    other.setup("fit")
    ids, ids2 = cat.person_ids, other.catalog.person_ids

    def by_id(d: IVRDataModule, pid: np.ndarray) -> list[dict]:
        out = []
        for q in range(len(d.people)):
            order = np.argsort(pid[d.people[q]])
            out.append(dict(zip(pid[d.people[q]][order].tolist(), d._train.unit_of[q][order].tolist())))
        return out

    assert by_id(dm, ids) == by_id(other, ids2)
    first = dm._train.example(1, 7)
    j = int(np.flatnonzero(ids2 == ids[first.row])[0])
    q = int(first.probe_questions[0])
    k = int(np.flatnonzero(other.people[q] == j)[0]) + int(other._train.offsets[q])
    second = other._train.example(1, k)
    assert np.array_equal(first.demo_questions, second.demo_questions) and first.demo_form == second.demo_form
    assert sorted(ids[dm.split.test_rows].tolist()) == sorted(ids2[other.split.test_rows].tolist())
    a = {
        (int(ids[e.row]), e.setup, int(e.probe_forms[0])): e.demo_questions.tolist()
        for e in (dm._test.example(i) for i in range(len(dm._test)))
    }
    b = {
        (int(ids2[e.row]), e.setup, int(e.probe_forms[0])): e.demo_questions.tolist()
        for e in (other._test.example(i) for i in range(len(other._test)))
    }
    assert a == b
