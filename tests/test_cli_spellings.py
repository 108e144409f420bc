"""One name for one thing on every command: ``--ckpt_path`` reads a checkpoint, ``--out`` names what a command writes.

The previous spellings (``ivr.elicit interview --ckpt``, ``ivr.fit --report_dir``) still work and print one
deprecation note naming the new flag; the new ones work without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
}


def deprecations(err: str) -> list[str]:
    return [line for line in err.splitlines() if "deprecated" in line]


@pytest.fixture(scope="module")
def reasoner_ckpt(small_catalog_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A tiny untrained reasoner saved as a checkpoint (weights and hyper-parameters), and its cache folder."""
    import torch

    from ivr.data.datamodule import IVRDataModule
    from ivr.model.build import tokenizer_size
    from ivr.model.module import IndieValueReasoner

    work = tmp_path_factory.mktemp("spellings")
    dm = IVRDataModule(catalog=str(small_catalog_dir), tokenizer="statement", cache_dir=str(work / "cache"))
    torch.manual_seed(0)
    module = IndieValueReasoner(vocab_size=tokenizer_size(dm), model_config=TINY_MODEL)
    module.configure_model()
    ckpt = work / "tiny.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, ckpt)
    return ckpt, work / "cache"


def _interview(flag: str, ckpt: Path, cache: Path, catalog: Path, tmp_path: Path, capsys) -> tuple[dict, str]:
    from ivr.elicit.__main__ import main

    answers = tmp_path / "answers.txt"
    answers.write_text("1\n2\n")
    out = tmp_path / f"interview{flag}"
    assert (
        main(
            [
                "interview",
                flag,
                str(ckpt),
                "--data.catalog",
                str(catalog),
                "--data.cache_dir",
                str(cache),
                "--data.split_size",
                "50",
                "--answers",
                str(answers),
                "--questions",
                "2",
                "--show",
                "0",
                "--max_seq_length",
                "1024",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return json.loads((out / "transcript.json").read_text()), capsys.readouterr().err


def test_interview_takes_ckpt_path_and_the_old_ckpt_with_one_deprecation_line(
    reasoner_ckpt, small_catalog_dir, tmp_path, capsys
) -> None:
    ckpt, cache = reasoner_ckpt
    new, err = _interview("--ckpt_path", ckpt, cache, small_catalog_dir, tmp_path, capsys)
    assert deprecations(err) == []
    old, err = _interview("--ckpt", ckpt, cache, small_catalog_dir, tmp_path, capsys)
    assert deprecations(err) == [
        "[ivr] python -m ivr.elicit interview: --ckpt is deprecated, use --ckpt_path "
        "(the old spelling is accepted until the next release)"
    ]
    asked = [[t["question"] for t in transcript["turns"]] for transcript in (new, old)]
    assert len(asked[0]) == 2 and asked[0] == asked[1]  # the same reasoner asked the same questions


def _fit_args(catalog: Path, tmp_path: Path) -> list[str]:
    return [
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--data.catalog",
        str(catalog),
        "--data.cache_dir",
        str(tmp_path / "cache"),
        "--checkpoint_dir",
        str(tmp_path / "ck"),
        "--trainer.default_root_dir",
        str(tmp_path / "root"),
        "--trainer.logger.init_args.save_dir",
        str(tmp_path / "root"),
    ]


def _user_folder(path: Path) -> Path:
    path.mkdir()
    (path / "table.json").write_text('{"mine": true}')
    return path


@pytest.mark.parametrize("flag", ["--out", "--report_dir"])
def test_fit_out_names_the_evaluation_folder_and_report_dir_is_its_old_spelling(
    flag, small_catalog_dir, tmp_path, capsys
) -> None:
    """Both spellings name the folder fit writes its evaluation into: a user's folder is refused before training,
    naming the flag given; the old one with one deprecation line first."""
    from ivr.cli import _warned, run
    from ivr.fit import main

    _warned.clear()
    mine = _user_folder(tmp_path / "mine")
    code = run(main, [*_fit_args(small_catalog_dir, tmp_path), flag, str(mine)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"error: {flag} {mine}: the folder holds files ivr did not write")
    assert deprecations(err) == (
        []
        if flag == "--out"
        else [
            "[ivr] python -m ivr.fit: --report_dir is deprecated, use --out (the old spelling is accepted until the next "
            "release)"
        ]
    )
    assert not (tmp_path / "ck").exists()  # refused before the checkpoint folder was touched


def test_fit_refuses_out_and_report_dir_naming_different_folders(small_catalog_dir, tmp_path, capsys) -> None:
    from ivr.cli import run
    from ivr.fit import main

    code = run(
        main,
        [*_fit_args(small_catalog_dir, tmp_path), "--out", str(tmp_path / "a"), "--report_dir", str(tmp_path / "b")],
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: --report_dir ") and "give only --out" in err[-1]
    assert not (tmp_path / "ck").exists()


def test_a_fit_configs_out_is_not_the_output_of_commands_reading_it(small_catalog_dir, tmp_path, capsys) -> None:
    """``ivr.evaluate`` and ``ivr.data describe`` read a fit config (LightningCLI saves ``out:`` in every run's
    config.yaml); the fit's evaluation folder is neither evaluate's ``--out`` nor an unknown key to describe."""
    from ivr.cli import drop_fit_output, run
    from ivr.data.__main__ import main as data_main
    from ivr.evaluate import DEFAULT_OUT, build_parser

    config = yaml.safe_load((ROOT / "configs" / "tiny.yaml").read_text())
    config["out"] = str(tmp_path / "fit_eval")
    config["data"].update(catalog=str(small_catalog_dir), cache_dir=str(tmp_path / "cache"), split_size=50)
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    cfg = build_parser().parse_args(drop_fit_output(["--config", str(path), "--ckpt_path", "x.ckpt"]))
    assert cfg.out == DEFAULT_OUT
    cfg = build_parser().parse_args(drop_fit_output(["--config", str(path), "--out", str(tmp_path / "e")]))
    assert cfg.out == str(tmp_path / "e")
    assert run(data_main, ["describe", "--config", str(path)]) == 0
    assert "error" not in capsys.readouterr().err
    assert not (tmp_path / "fit_eval").exists()
