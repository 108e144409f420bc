"""Every training config parses against the CLI (``--print_config``, nothing is fitted); recipe values hold."""

import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml

from ivr.fit import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FIT_KEYS = {"trainer", "model", "data"}


def fit_configs() -> list[Path]:
    """``configs/*.yaml`` files that are ``ivr.fit`` configs (zero-shot / experiment configs are not)."""
    return [p for p in sorted(CONFIGS.glob("*.yaml")) if FIT_KEYS <= set(yaml.safe_load(p.read_text()) or {})]


def test_there_are_fit_configs():
    names = {p.stem for p in fit_configs()}
    assert {"tiny", "llama31_8b_fsdp", "llama31_8b_fsdp_packed", "llama31_8b_lora", "llama31_8b_qlora"} <= names
    assert len([n for n in names if n.startswith("ivr_")]) == 8  # one per IVR row of Table 3, two of Table 4


@pytest.mark.parametrize("path", fit_configs(), ids=lambda p: p.stem)
def test_config_parses(path, capsys):
    with mock.patch.object(sys, "argv", ["ivr.fit"]), pytest.raises(SystemExit) as done:
        main(["--config", str(path), "--print_config"])
    assert done.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["use_distributed_sampler"] is False
    assert printed["model"]["lr"] > 0 and printed["data"]["batch_size"] >= 1


def test_table16_recipe():
    cfg = yaml.safe_load((CONFIGS / "llama31_8b_fsdp.yaml").read_text())
    model, trainer, data = cfg["model"], cfg["trainer"], cfg["data"]
    assert model["model_name_or_path"] == "meta-llama/Meta-Llama-3.1-8B-Instruct"
    assert (model["lr"], model["schedule"], model["warmup_ratio"], model["weight_decay"]) == (5e-6, "linear", 0.03, 0.0)
    assert (trainer["max_epochs"], trainer["precision"], data["max_seq_length"]) == (2, "bf16-mixed", 4096)
    assert trainer["devices"] * trainer["num_nodes"] * data["batch_size"] * trainer["accumulate_grad_batches"] == 8
    assert trainer["strategy"] == "fsdp"
    # fp32 sharded master weights; FSDP2 gathers and computes in bf16 and reduces gradients in fp32
    assert (model["dtype"], model["fsdp_param_dtype"]) == ("float32", "bfloat16")


def test_packed_8b_variant_differs_only_in_packing():
    base = yaml.safe_load((CONFIGS / "llama31_8b_fsdp.yaml").read_text())
    packed = yaml.safe_load((CONFIGS / "llama31_8b_fsdp_packed.yaml").read_text())
    assert packed["data"].pop("probes_per_sequence") > 1 and base["data"].pop("probes_per_sequence") == 1
    assert packed["model"] == base["model"] and packed["data"] == base["data"]
    assert packed["checkpoint_dir"] != base["checkpoint_dir"]


M8 = ["pmixed_p1", "rmixed_p1", "pmixed_r1", "rmixed_r1", "p200_p1", "r200_p1", "p200_r1", "r200_r1"]


@pytest.mark.parametrize(
    ("name", "units", "n", "per_unit"),
    [
        ("ivr_p_mixed_n800", ["pmixed_p1", "rmixed_p1"], 800, [400, 400]),
        ("ivr_r_mixed_n800", ["pmixed_r1", "rmixed_r1"], 800, [400, 400]),
        ("ivr_pr_200_n800", ["p200_p1", "r200_p1", "p200_r1", "r200_r1"], 800, [200] * 4),
        ("ivr_pr_mixed_n800", ["pmixed_p1", "rmixed_p1", "pmixed_r1", "rmixed_r1"], 800, [200] * 4),
        ("ivr_pr_mixed200_n800", M8, 800, [100] * 8),
        ("ivr_pr_mixed200_n1600", M8, 1600, [200] * 8),
        ("llama31_8b_fsdp", M8, 1600, [200] * 8),
        # Table 4: 800 demographic-only; 400 demographic-only + 400 statement examples per question
        ("ivr_demo_n800", ["demo_p1", "demo_r1"], 800, [400, 400]),
        (
            "ivr_demo400_stmt400_n800",
            ["demo_p1", "demo_r1", "p200_p1", "r200_p1", "p200_r1", "r200_r1"],
            800,
            [200, 200, 100, 100, 100, 100],
        ),
    ],
)
def test_study_rows_are_the_study_mixtures(name, units, n, per_unit):
    """Table 3 / Table 4 configs: the study's units, and each unit's exact examples per question."""
    from ivr.data.describe import describe
    from ivr.protocol.units import allocate, parse_units

    data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())["data"]
    parsed = parse_units(data["units"])
    assert [u.name for u in parsed] == units and data["n_per_question"] == n
    assert allocate(n, [u.share for u in parsed]).tolist() == per_unit
    assert data["eval_forms"] == "matched" and data["eval_demo_rule"] == "setup"
    text = describe(CONFIGS / f"{name}.yaml")  # the catalog (data/wvs7) is not here: nominal counts
    print(text)
    for unit, k in zip(units, per_unit):
        line = next(x for x in text.splitlines() if x.startswith(unit + " "))
        assert line.split()[-2:] == [f"{k:,}", f"{k * 253:,}"]
    assert "not opened" in text and "[matched] polar probes with polar demonstrations" in text


@pytest.mark.parametrize("path", sorted((CONFIGS / "experiments").glob("*.yaml")), ids=lambda p: p.stem)
def test_experiment_config_prints_and_reads_back(path, capsys, tmp_path):
    """``--print_config`` of an experiment prints plain YAML that reads back as the same config (it was a
    RepresenterError traceback: the checked values are jsonargparse's PositiveInt, which safe_dump refuses)."""
    from ivr.experiment.__main__ import main as experiment

    assert experiment([path.stem, "--config", str(path), "--print_config"]) == 0
    printed = capsys.readouterr().out
    (tmp_path / "again.yaml").write_text(printed)
    assert experiment([path.stem, "--config", str(tmp_path / "again.yaml"), "--print_config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == yaml.safe_load(printed)
