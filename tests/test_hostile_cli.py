"""Hostile values on the command line (issue 23): each is refused up front with exit status 2 and one
``error:`` line naming the flag or file and the allowed range, and nothing is written."""

from pathlib import Path

import pytest

from ivr.cli import run

ROOT = Path(__file__).resolve().parents[1]


def refused(capsys, main, argv: list[str], *expected: str) -> str:
    """Runs ``main`` under the error contract: exit 2 and one ``error:`` line (the last) holding every ``expected``
    text; returns stderr."""
    capsys.readouterr()
    assert run(main, argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and err.rstrip().splitlines()[-1] == errors[0], err
    assert "Traceback" not in err
    for text in expected:
        assert text in errors[0], errors[0]
    return err


def interview(catalog: Path, out: Path, *flags: str) -> list[str]:
    return ["interview", "--bayes", "--data.catalog", str(catalog), "--out", str(out), *flags]


# ---- ivr.elicit interview ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, expected",
    [
        ("1\n²\n".encode(), ["line 2", "'²'", "option number"]),  # str.isdigit() is true, int() fails
        (b"1\n" + b"7" * 5000 + b"\n", ["line 2", "(5000 characters)"]),  # int() refuses 5,000 digits
        (b"1\n\xff\xfe2\n", ["line 2", "not UTF-8", "0xff"]),
    ],
)
def test_interview_answers_file(small_catalog_dir, tmp_path, capsys, content, expected) -> None:
    from ivr.elicit.__main__ import main

    answers = tmp_path / "answers.txt"
    answers.write_bytes(content)
    out = tmp_path / "out"
    refused(capsys, main, interview(small_catalog_dir, out, "--answers", str(answers)), "--answers", *expected)
    assert not out.exists()


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--questions", "-3", ">= 1"),
        ("--show", "-1", ">= 0"),
        ("--top", "0", ">= 1"),
        ("--setup", "-1", ">= 0"),
        ("--setup", "99", "setups 0 to 2"),
        ("--max_seq_length", "0", ">= 1"),
    ],
)
def test_interview_counts(small_catalog_dir, tmp_path, capsys, flag, value, expected) -> None:
    from ivr.elicit.__main__ import main

    out = tmp_path / "out"
    refused(capsys, main, interview(small_catalog_dir, out, flag, value), f"{flag} {value}", "out of range", expected)
    assert not out.exists()


# ---- counts shared by every command (ivr.settings.Count / Count0) ------------------------------------------


def test_fit_batch_size_zero(tmp_path, capsys) -> None:
    """Was a torch traceback from the DataLoader after the catalog and tokenizer were built."""
    from ivr.fit import main

    ck = tmp_path / "ck"
    refused(
        capsys,
        main,
        [
            "--config",
            str(ROOT / "configs" / "tiny.yaml"),
            "--data.batch_size",
            "0",
            "--checkpoint_dir",
            str(ck),
            "--trainer.default_root_dir",
            str(tmp_path / "runs"),
        ],
        "--data.batch_size 0",
        "out of range, use a whole number >= 1",
    )
    assert not ck.exists() and not (tmp_path / "runs").exists()


def test_data_module_refuses_a_zero_batch_size_from_python() -> None:
    """The same check where no parser runs (an experiment recipe's base: data: section)."""
    from ivr.data.datamodule import IVRDataModule
    from ivr.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--data.eval_batch_size 0: out of range, use a whole number >= 1"):
        IVRDataModule(eval_batch_size=0)


@pytest.mark.parametrize(
    "argv, expected, why",
    [
        (["--bootstrap", "-1"], "--bootstrap -1", "out of range"),
        (["--data.limit_eval_people", "0"], "--data.limit_eval_people 0", "out of range"),
        (["--pools", "[5000]"], "--pools 5000", "training people"),  # was a ValueError traceback from sample_pool
    ],
)
def test_baselines_counts(real_catalog, tmp_path, capsys, argv, expected, why) -> None:
    """The counts were accepted (the run went ahead on a negative bootstrap count / without the limit); a pool
    larger than the training people was a traceback."""
    from baselines.__main__ import main

    out = tmp_path / "out"
    pools = [] if "--pools" in argv else ["--pools", "[all]"]
    refused(
        capsys,
        main,
        [
            "--data.catalog",
            str(real_catalog),
            "--out",
            str(out),
            *pools,
            "--max_n",
            "5",
            "--n_cluster",
            "5",
            "--progress",
            "false",
            *argv,
        ],
        expected,
        why,
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--n_neighbours", "0"], "--n_neighbours 0"),
        (["--batch_size", "-2"], "--batch_size -2"),
        (["--bootstrap", "-1"], "--bootstrap -1"),
    ],
)
def test_experiment_counts(tmp_path, capsys, argv, expected) -> None:
    from ivr.experiment.__main__ import main

    out = tmp_path / "out"
    refused(capsys, main, ["elicitation", "--quick", "--out", str(out), *argv], expected, "out of range")
    assert not out.exists()


# ---- ivr.data export ---------------------------------------------------------------------------------------


def export_args(catalog: Path, tmp: Path, *flags: str) -> list[str]:
    return [
        "export",
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--data.catalog",
        str(catalog),
        "--data.split_size",
        "null",
        "--data.split_rule",
        "null",
        "--data.cache_dir",
        str(tmp / "cache"),
        "--out",
        str(tmp / "out" / "train.jsonl"),
        "--progress",
        "false",
        *flags,
    ]


def test_data_export_refuses_a_chat_template(real_catalog, tmp_path, capsys) -> None:
    """The exported messages carry no template: the flag was silently ignored."""
    from ivr.data.__main__ import main

    refused(
        capsys,
        main,
        export_args(real_catalog, tmp_path, "--data.chat_template", "llama3.1"),
        "--data.chat_template 'llama3.1'",
        "without a template",
    )
    assert not (tmp_path / "out").exists()


def test_data_export_above_max_size(real_catalog, tmp_path, capsys) -> None:
    """The size is estimated and printed before writing; above --max_size nothing is written."""
    from ivr.data.__main__ import main

    err = refused(
        capsys,
        main,
        export_args(real_catalog, tmp_path, "--max_size", "10kB", "--data.n_per_question", "2"),
        "--max_size 10kB: the export would be about 61.9 kB",  # 61,929 bytes when written (tiny.yaml follows this small survey's protocol: several probes per example)
        "--limit N",
    )
    assert "[ivr] data export: 24 train examples, about 61.9 kB (estimated from 24)" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["lots", "0.0MB", "0", "2 parsecs"])
def test_data_export_max_size_value(real_catalog, tmp_path, capsys, value) -> None:
    from ivr.data.__main__ import main

    refused(
        capsys,
        main,
        export_args(real_catalog, tmp_path, "--max_size", value),
        f"--max_size {value!r}",
        "use a size > 0",
    )
    assert not (tmp_path / "out").exists()
