"""The survey protocol: WVS-7 keeps the study's, a small survey gets folds; impossible ones fail naming cause and flag.

Failure cases follow tests/test_failures.py: exit status 2, one ``error:`` line naming the flag, no
traceback, the user's files intact.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_failures import ROOT, cli, expect_error, snapshot
from test_own_survey import small_survey, write_survey

from ivr.catalog.codebook import codebook_from_dict, load_codebook
from ivr.protocol.probes import probe_setups
from ivr.protocol.resolve import resolve_protocol


def baselines_main():
    from baselines.__main__ import main

    return main


def catalog_main():
    from ivr.catalog.__main__ import main

    return main


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> tuple[Path, Path]:
    return write_survey(tmp_path_factory.mktemp("protocol") / "survey", people=300)


@pytest.fixture(scope="module")
def small_catalog(survey) -> Path:
    from ivr.catalog.convert import convert_survey

    codebook, csv = survey
    return convert_survey(str(csv), load_codebook(codebook), codebook.parent.parent / "cat", progress=False)


def test_wvs7_defaults_are_the_study():
    cb = load_codebook("wvs7")
    p = resolve_protocol(cb)
    assert (p.n_setups, p.probes_per_category, p.probes_per_setup) == (3, 3, None)
    assert (p.eval_demo_count, p.demo_count, p.split_rule, p.split_size) == ("200", "200", "study", 800)
    setups = p.setups(cb)
    assert all(np.array_equal(a, b) for a, b in zip(setups, probe_setups(cb, 3, 3)))
    assert p.min_valid_for(setups, len(cb.questions)) == 239  # 200 demonstrations + 39 probes per setup


def test_small_survey_gets_disjoint_folds_and_all_demonstrations():
    cb = codebook_from_dict(small_survey().codebook())
    p = resolve_protocol(cb)
    setups = p.setups(cb)
    assert [len(s) for s in setups] == [3, 3, 3] and len(np.unique(np.concatenate(setups))) == 9
    for s in setups:  # one probe from each of the three categories
        assert sorted(cb.questions[q].category for q in s) == sorted(cb.categories)
    assert (p.eval_demo_count, p.demo_count, p.split_rule, p.split_size) == ("all", "all", "stratified", None)
    assert p.min_valid_for(setups, 12) == 3 + 4 and p.demos("eval_demo_count", cb) == "12"
    assert p.size_for(1977) == 395 and p.size_for(10_000) == 800


def test_codebook_section_then_flags_win():
    data = small_survey().codebook()
    data["protocol"] = {"n_setups": 4, "probes_per_setup": 2, "min_valid": 6, "eval_demo_count": 5}
    cb = codebook_from_dict(data)
    p = resolve_protocol(cb, {"min_valid": 9, "probes_per_category": 1, "split_size": None})
    assert (p.n_setups, p.probes_per_category, p.probes_per_setup, p.min_valid) == (4, 1, None, 9)
    assert p.eval_demo_count == "5" and p.origin["n_setups"] == "codebook" and p.origin["min_valid"] == "flag"
    assert [len(s) for s in p.setups(cb)] == [3, 3, 3, 3]  # one per category
    # the protocol section does not change what the answers mean: the catalog hash stays
    assert cb.hash == codebook_from_dict(small_survey().codebook()).hash


def test_codebook_protocol_section_is_validated(tmp_path: Path, capsys):
    data = small_survey().codebook()
    data["protocol"] = {"n_setup": 2, "min_valid": -1, "eval_demo_count": "most"}
    path = tmp_path / "codebook.yaml"
    path.write_text(yaml.safe_dump(data))
    csv = tmp_path / "s.csv"
    csv.write_text("resp_id\nR1\n")
    code, _, err = cli(catalog_main(), ["build", "--codebook", path, "--input", csv, "--out", tmp_path / "c"], capsys)
    expect_error(
        code,
        err,
        str(path),
        "protocol.n_setup: unknown key",
        "protocol.min_valid: -1",
        "protocol.eval_demo_count: 'most'",
    )
    assert not (tmp_path / "c").exists()


def test_protocol_command_prints_setups_and_warns(small_catalog: Path, capsys):
    code, out, err = cli(catalog_main(), ["protocol", small_catalog], capsys)
    assert code == 0 and "P0: 3 probes" in out and "eligible:" in out and err == ""
    code, out, err = cli(
        catalog_main(),
        ["protocol", small_catalog, "--data.probes_per_setup", "7", "--data.n_setups", "2", "--json"],
        capsys,
    )
    facts = json.loads(out)
    assert code == 0 and [s["n_probes"] for s in facts["setups"]] == [7, 7]
    assert "fewer demonstrations than probes" in err and "warning:" in err


@pytest.mark.parametrize(
    "case", ["min_valid_above_questions", "study_rule", "codebook_min_valid", "too_many_probes", "bad_setup"]
)
def test_impossible_protocol_names_cause_and_flag(tmp_path: Path, small_catalog: Path, survey, capsys, case: str):
    args = [
        "--data.catalog",
        small_catalog,
        "--pools",
        "[all]",
        "--max_n",
        "3",
        "--n_cluster",
        "2",
        "--bootstrap",
        "0",
        "--progress",
        "false",
        "--out",
        tmp_path / "b",
    ]
    if case == "min_valid_above_questions":  # the study's threshold on a 12-question survey
        args += ["--data.min_valid", "215"]
        needles = [
            "0 of 300 people are eligible",
            ">= 215 valid answers (--data.min_valid)",
            "this survey has 12 questions",
            "set --data.min_valid (at most 12) or a protocol in the codebook",
        ]
    elif case == "study_rule":
        args += ["--data.split_rule", "study"]
        needles = ["--data.split_rule study needs a 'continent' role", "set --data.split_rule stratified"]
    elif case == "codebook_min_valid":
        import shutil

        cat = tmp_path / "cat"
        shutil.copytree(small_catalog, cat)
        data = json.loads((cat / "codebook.json").read_text())
        data["protocol"] = {"min_valid": 40}
        from ivr.catalog.store import load_catalog

        # the protocol section is outside the codebook hash: the catalog stays valid with it
        (cat / "codebook.json").write_text(json.dumps(data))
        assert load_catalog(cat).codebook.protocol == {"min_valid": 40}
        args[1] = cat
        needles = [">= 40 valid answers (--data.min_valid)", "this survey has 12 questions"]
    elif case == "too_many_probes":
        args += ["--data.probes_per_setup", "12"]
        needles = ["--data.probes_per_setup=12", "this survey has 12 questions", "at most 11"]
    else:
        args += ["--data.setups", "[3]"]
        needles = ["--data.setups [3]", "--data.n_setups"]
    before = snapshot(tmp_path)
    code, _, err = cli(baselines_main(), args, capsys)
    expect_error(code, err, *needles)
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("cat/")} == {
        k: v for k, v in before.items() if not k.startswith("cat/")
    }


def test_fit_reads_the_protocol_and_names_the_flag(tmp_path: Path, small_catalog: Path, capsys):
    from ivr.fit import main as fit_main

    args = [
        "--config",
        ROOT / "configs" / "tiny_survey.yaml",
        "--data.catalog",
        small_catalog,
        "--data.cache_dir",
        tmp_path / "cache",
        "--data.min_valid",
        "215",
        "--checkpoint_dir",
        tmp_path / "ck",
        "--trainer.default_root_dir",
        tmp_path / "runs",
        "--trainer.logger.init_args.save_dir",
        tmp_path / "runs",
        "--trainer.max_steps",
        "1",
        "--evaluate",
        "false",
    ]
    code, _, err = cli(fit_main, args, capsys)
    expect_error(code, err, "0 of 300 people are eligible", "--data.min_valid")


def test_data_module_follows_the_protocol_and_warns(tmp_path: Path, small_catalog: Path, caplog):
    import logging

    from ivr.data.datamodule import IVRDataModule

    dm = IVRDataModule(catalog=str(small_catalog), cache_dir=str(tmp_path / "cache"))
    dm.setup_people()
    assert [len(s) for s in dm.setups] == [3, 3, 3] and dm.eval_demo_label() == "all"
    assert {u.demo_count for u in dm.units} == {"12"}  # "all": every other valid answer
    assert len(dm.split.eval_rows) == dm.protocol.size_for(dm.split.info["n_eligible"])
    with caplog.at_level(logging.WARNING, logger="ivr.data.datamodule"):
        IVRDataModule(
            catalog=str(small_catalog), cache_dir=str(tmp_path / "cache"), n_setups=2, probes_per_setup=7, min_valid=0
        ).setup_people()
    assert "fewer demonstrations than probes" in caplog.text


def test_protocol_package_needs_no_training_stack() -> None:
    """ivr.protocol is the numpy-only survey protocol: importing every module of it loads neither torch,
    Lightning, transformers nor the data pipeline (ivr.data), so baselines and zero-shot run without them."""
    import pkgutil
    import subprocess
    import sys

    import ivr.protocol

    names = sorted(f"ivr.protocol.{m.name}" for m in pkgutil.iter_modules(ivr.protocol.__path__))
    assert {"ivr.protocol.resolve", "ivr.protocol.splits", "ivr.protocol.selection"} <= set(names)
    code = (
        f"import sys, {', '.join(names)}; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'transformers') "
        "or m.startswith('ivr.data')); print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
