"""What a user hits when something is wrong: every command's bad-input classes, kills and typos.

Each case runs a command as a user would (a subprocess for one case per command, in-process through
:func:`ivr.cli.run` for the rest: the same code path, minus the interpreter start-up) and asserts

* the exit status (2 for an expected failure),
* exactly one ``error:`` line, the last one, naming the file / flag / value, and no traceback,
* that every byte of the files the user had before is intact.

The README section "What ivr never does" is checked at the end.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.cli import run

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "my_survey"
TINY_MODEL = {
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 512,
    "tie_word_embeddings": False,
}


# --- helpers ---------------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes (the user's files before a command)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def user_folder(root: Path, name: str = "mine") -> tuple[Path, dict[str, bytes]]:
    """A folder of a user's own files (one of them named like an output file)."""
    folder = root / name
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\section{Results}\nhi\n")
    (folder / "table.csv").write_text("my,own,table\n1,2,3\n")
    (folder / "sub" / "data.bin").write_bytes(bytes(range(256)))
    return folder, snapshot(folder)


def expect_error(code: int, err: str, *needles: str) -> str:
    """Exit status 2, one ``error:`` line (the last line), no traceback; returns the line."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2, err
    assert "Traceback" not in err, err
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    assert "weights_only=False" not in err  # never the unsafe advice
    return errors[0]


def cli(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run an entry point's ``main`` under the error contract, in-process."""
    code = run(main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def subproc(args: list[str], cwd: Path, timeout: int = 240, **env: str) -> subprocess.CompletedProcess:
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "IVR_CACHE": str(cwd / "cache"),
        **env,
    }
    full_env.pop("IVR_DEBUG", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def catalog_main():
    from ivr.catalog.__main__ import main

    return main


def baselines_main():
    from baselines.__main__ import main

    return main


def flip_bytes(path: Path, at: float = 0.5, n: int = 64) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    for i in range(start, min(start + n, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("failures")


@pytest.fixture(scope="module")
def catalog(work: Path) -> Path:
    from ivr.catalog.synth import build_synthetic

    return build_synthetic(work / "cat600", n_people=600, seed=0)


@pytest.fixture(scope="module")
def tiny_ckpt(work: Path, catalog: Path) -> Path:
    """A tiny trained reasoner's checkpoint (two steps)."""
    from ivr.experiment.training import train_reasoner

    data = {
        "catalog": str(catalog),
        "cache_dir": str(work / "cache"),
        "n_per_question": 1,
        "split_size": 20,
        "split_rule": "stratified",
        "batch_size": 4,
        "max_seq_length": 320,
        "probes_per_sequence": 8,
        "limit_eval_people": 2,
    }
    path = work / "tiny.ckpt"
    train_reasoner(
        {"data": data, "model": {"model_config": TINY_MODEL}, "trainer": {"max_steps": 2}}, path, progress=False
    )
    return path


def fit_args(catalog: Path, root: Path, *extra: str) -> list[str]:
    return [
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--data.catalog",
        str(catalog),
        "--data.cache_dir",
        str(root / "cache"),
        "--data.n_per_question",
        "1",
        "--data.split_size",
        "20",
        "--data.split_rule",
        "stratified",
        "--data.max_seq_length",
        "320",
        "--data.batch_size",
        "4",
        "--model.model_config",
        json.dumps(TINY_MODEL),
        "--trainer.max_steps",
        "1",
        "--trainer.default_root_dir",
        str(root / "runs"),
        "--trainer.logger.init_args.save_dir",
        str(root / "runs"),
        "--evaluate",
        "false",
        *extra,
    ]


# --- catalog build / synth / stats -------------------------------------------------------------------


def test_catalog_build_refuses_a_folder_of_user_files(tmp_path: Path) -> None:
    mine, before = user_folder(tmp_path)
    done = subproc(
        [
            "-m",
            "ivr.catalog",
            "build",
            "--codebook",
            str(FIXTURE / "my_survey.yaml"),
            "--input",
            str(FIXTURE / "my_survey.csv"),
            "--out",
            str(mine),
        ],
        tmp_path,
    )
    expect_error(done.returncode, done.stderr, str(mine), "thesis.tex", "--out")
    assert snapshot(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary folder left


def test_catalog_build_refuses_a_manifest_beside_other_files(tmp_path: Path, capsys) -> None:
    mine, _ = user_folder(tmp_path)
    (mine / "manifest.json").write_text('{"codebook": "x"}')
    before = snapshot(mine)
    code, _, err = cli(
        catalog_main(),
        ["build", "--codebook", FIXTURE / "my_survey.yaml", "--input", FIXTURE / "my_survey.csv", "--out", mine],
        capsys,
    )
    expect_error(code, err, "files ivr did not write", "manifest.json", "table.csv")
    assert snapshot(mine) == before


@pytest.mark.parametrize(
    "case", ["truncated_gz", "csv_named_dta", "inf_code", "out_is_a_file", "typo_flag", "missing_input"]
)
def test_catalog_build_bad_input(tmp_path: Path, capsys, case: str) -> None:
    import gzip

    src, needles = FIXTURE / "my_survey.csv", []
    out = tmp_path / "cat"
    args = ["build", "--codebook", FIXTURE / "my_survey.yaml", "--input", src, "--out", out]
    if case == "truncated_gz":
        src = tmp_path / "survey.csv.gz"
        src.write_bytes(gzip.compress((FIXTURE / "my_survey.csv").read_bytes())[:150])
        needles = ["survey.csv.gz", "truncated or damaged"]
    elif case == "csv_named_dta":
        src = tmp_path / "survey.dta"
        src.write_bytes((FIXTURE / "my_survey.csv").read_bytes())
        needles = ["survey.dta", "Stata", "give it a .csv name"]
    elif case == "inf_code":
        src = tmp_path / "survey.csv"
        lines = (FIXTURE / "my_survey.csv").read_text().splitlines()
        cells = lines[3].split(",")
        cells[2] = "inf"
        lines[3] = ",".join(cells)
        src.write_text("\n".join(lines) + "\n")
        needles = ["survey.csv", "'age_band'", "row 3", "inf", "not an integer answer code"]
    elif case == "out_is_a_file":
        out.write_text("precious")
        needles = ["--out", "is a file"]
    elif case == "typo_flag":
        args = ["build", "--codebook", FIXTURE / "my_survey.yaml", "--inptu", src, "--out", out]
        needles = ["--inptu", "did you mean --input?"]
    elif case == "missing_input":
        src = tmp_path / "nope.csv"
        needles = ["nope.csv", "not found"]
    if case != "typo_flag":
        args[4] = src
    before = snapshot(tmp_path)
    code, _, err = cli(catalog_main(), args, capsys)
    expect_error(code, err, *needles)
    assert snapshot(tmp_path) == before  # nothing written, nothing changed


def test_killed_build_leftovers_are_cleaned_and_never_named(tmp_path: Path, capsys) -> None:
    dead = 2**22 + 12345  # above the default pid_max: no such process
    out = tmp_path / "cat"
    (tmp_path / f".cat.tmp-{dead}-abcd1234").mkdir()
    (tmp_path / f".cat.tmp-{dead}-abcd1234" / "catalog.parquet").write_text("half")
    (tmp_path / ".cat.staging").mkdir()  # the staging folder of an older ivr, killed long ago
    os.utime(tmp_path / ".cat.staging", (1, 1))
    code, _, err = cli(
        catalog_main(),
        ["build", "--codebook", FIXTURE / "my_survey.yaml", "--input", FIXTURE / "my_survey.csv", "--out", out],
        capsys,
    )
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat"]
    # a kill between the two renames of a replacement: the earlier catalog is put back, then replaced
    os.replace(out, tmp_path / f".cat.old-{dead}")
    code, _, err = cli(catalog_main(), ["stats", out], capsys)
    expect_error(code, err, "no such catalog folder")
    code, _, err = cli(
        catalog_main(),
        ["build", "--codebook", FIXTURE / "my_survey.yaml", "--input", FIXTURE / "my_survey.csv", "--out", out],
        capsys,
    )
    assert code == 0 and "restored" in err and ".old-" not in err.split("restored")[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat"]


def test_catalog_synth_bad_input(tmp_path: Path, capsys) -> None:
    code, _, err = cli(catalog_main(), ["synth", "--people", "20", "--out", tmp_path / "s"], capsys)
    expect_error(code, err, "20 people", "--people")
    code, _, err = cli(catalog_main(), ["synth", "--people", "100", "--out", tmp_path / "s"], capsys)
    assert code == 0 and "synthetic population (100 people, seed 0): drew the population" in err  # progress
    mine, before = user_folder(tmp_path)
    code, _, err = cli(catalog_main(), ["synth", "--people", "100", "--out", mine], capsys)
    expect_error(code, err, str(mine), "--out")
    assert snapshot(mine) == before


def test_catalog_stats_on_a_damaged_catalog(tmp_path: Path, catalog: Path, capsys) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(catalog, broken)
    flip_bytes(broken / "catalog.parquet", 0.3, 4096)
    code, _, err = cli(catalog_main(), ["stats", broken], capsys)
    expect_error(code, err, "catalog.parquet", "cannot be read", "rebuild")


# --- baselines ----------------------------------------------------------------------------------


def test_baselines_the_issue_case_keeps_thesis_tex(tmp_path: Path) -> None:
    """``mkdir x && echo hi > x/thesis.tex && python -m baselines ... --out x`` used to delete thesis.tex."""
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "thesis.tex").write_text("hi\n")
    done = subproc(
        [
            "-m",
            "baselines",
            "--catalog",
            "synthetic:people=1500,seed=0",
            "--eval-size",
            "40",
            "--pools",
            "all",
            "--out",
            "x",
        ],
        tmp_path,
    )
    expect_error(done.returncode, done.stderr, "--out x", "thesis.tex")
    assert (tmp_path / "x" / "thesis.tex").read_text() == "hi\n"
    assert "deprecated" in done.stderr  # the old spellings still parse, with a note
    assert "synthetic population" not in done.stderr  # refused before any work


@pytest.mark.parametrize(
    "case", ["damaged_catalog", "too_many_people", "typo", "unknown_dimension", "bad_setups", "missing_catalog"]
)
def test_baselines_bad_input(tmp_path: Path, catalog: Path, capsys, case: str) -> None:
    import shutil

    args = [
        "--data.catalog",
        catalog,
        "--data.split_rule",
        "stratified",
        "--data.split_size",
        "20",
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
    needles: list[str] = []
    if case == "damaged_catalog":
        broken = tmp_path / "broken"
        shutil.copytree(catalog, broken)
        flip_bytes(broken / "catalog.parquet", 0.5, 2048)
        args[1] = broken
        needles = ["catalog.parquet", "cannot be read"]
    elif case == "too_many_people":
        args[5] = "5000"
        needles = ["--data.split_size 5000", "population of 600"]
    elif case == "typo":
        args += ["--data.split_sise", "40"]
        needles = ["--data.split_sise", "did you mean --data.split_size?"]
    elif case == "unknown_dimension":
        args += ["--dimensions", "[Shoe size]"]
        needles = ["--dimensions", "Shoe size"]
    elif case == "bad_setups":
        args += ["--data.setups", "[0, 7]"]
        needles = ["--data.setups"]
    elif case == "missing_catalog":
        args[1] = tmp_path / "no_catalog"
        needles = ["no_catalog", "does not exist"]
    before = snapshot(tmp_path)
    code, _, err = cli(baselines_main(), args, capsys)
    expect_error(code, err, *needles)
    assert snapshot(tmp_path) == before


def test_baselines_overwrite_is_only_for_ivr_outputs(tmp_path: Path, catalog: Path, capsys) -> None:
    out = tmp_path / "b"
    args = [
        "--data.catalog",
        catalog,
        "--data.split_rule",
        "stratified",
        "--data.split_size",
        "20",
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
        out,
    ]
    from ivr.outputs import write_output

    write_output(out, "evaluate", lambda t: (t / "table.json").write_text("{}"))  # another command's output
    code, _, err = cli(baselines_main(), args, capsys)
    expect_error(code, err, "holds a evaluate output", "--overwrite")
    code, _, err = cli(baselines_main(), [*args, "--overwrite"], capsys)
    assert code == 0, err
    assert json.loads((out / ".ivr-output.json").read_text())["kind"] == "baselines"
    code, _, err = cli(baselines_main(), args, capsys)  # its own earlier output: replaced
    assert code == 0, err
    (out / "notes.md").write_text("mine")
    code, _, err = cli(baselines_main(), [*args, "--overwrite"], capsys)  # never with a user's file inside
    expect_error(code, err, "notes.md")
    assert (out / "notes.md").read_text() == "mine" and (out / "table.json").is_file()


# --- evaluate and export --------------------------------------------------------------------------


def evaluate_main():
    from ivr.evaluate import main

    return main


def eval_args(catalog: Path, work: Path, *extra) -> list:
    return [
        "--config",
        ROOT / "configs" / "tiny.yaml",
        "--data.catalog",
        catalog,
        "--data.cache_dir",
        work / "cache",
        "--data.split_size",
        "20",
        "--data.split_rule",
        "stratified",
        "--data.limit_eval_people",
        "2",
        "--data.max_seq_length",
        "320",
        "--baselines",
        "false",
        "--bootstrap",
        "0",
        "--progress",
        "false",
        "--trainer.accelerator",
        "cpu",
        *extra,
    ]


@pytest.mark.parametrize(
    "case",
    [
        "missing_ckpt",
        "truncated_ckpt",
        "flipped_ckpt",
        "not_a_ckpt",
        "missing_base",
        "nothing_to_score",
        "typo",
        "foreign_out",
    ],
)
def test_evaluate_bad_input(tmp_path: Path, work: Path, catalog: Path, tiny_ckpt: Path, capsys, case: str) -> None:
    ckpt = tmp_path / "model.ckpt"
    out = tmp_path / "eval"
    extra: list = ["--ckpt_path", ckpt, "--out", out]
    needles: list[str] = ["--ckpt_path", str(ckpt)]
    if case == "missing_ckpt":
        needles.append("no such checkpoint")
    elif case == "truncated_ckpt":
        ckpt.write_bytes(tiny_ckpt.read_bytes()[:5000])
        needles.append("cannot be read as a checkpoint")
    elif case == "flipped_ckpt":  # bit flips in the pickled part and in the tensor data
        import zipfile

        ckpt.write_bytes(tiny_ckpt.read_bytes())
        with zipfile.ZipFile(ckpt) as z:
            info = next(i for i in z.infolist() if i.filename.endswith("data.pkl"))
            big = max(z.infolist(), key=lambda i: i.file_size)
        data = bytearray(ckpt.read_bytes())
        for at in (info.header_offset + 200, big.header_offset + 200 + big.file_size // 2):
            data[at] ^= 0x5A
        ckpt.write_bytes(bytes(data))
        needles.append("damaged")  # the zip's checksums catch what torch.load would read silently
    elif case == "not_a_ckpt":
        ckpt.write_text("this is my notes file, not a checkpoint\n")
        needles.append("cannot be read as a checkpoint")
    elif case == "missing_base":
        extra = ["--base_model", tmp_path / "models" / "llama", "--out", out]
        needles = ["--base_model", "no such folder"]
    elif case == "nothing_to_score":
        extra = ["--out", out]
        needles = ["--ckpt_path", "--base_model"]
    elif case == "typo":
        extra += ["--data.catlog", "x"]
        needles = ["catlog", "did you mean --data.catalog?"]
    elif case == "foreign_out":
        ckpt.write_bytes(tiny_ckpt.read_bytes())
        out, _ = user_folder(tmp_path, "eval")
        needles = [str(out), "thesis.tex"]
    before = snapshot(tmp_path)
    code, _, err = cli(evaluate_main(), eval_args(catalog, work, *extra), capsys)
    line = expect_error(code, err, *needles)
    assert "Repo id" not in line
    assert snapshot(tmp_path) == before


def test_evaluate_cli_subprocess_one_line(tmp_path: Path, work: Path, catalog: Path) -> None:
    done = subproc(["-m", "ivr.evaluate", *map(str, eval_args(catalog, work, "--ckpt", tmp_path / "x.ckpt"))], tmp_path)
    expect_error(done.returncode, done.stderr, "--ckpt_path", "x.ckpt")
    assert "--ckpt is deprecated" in done.stderr


def test_export_refuses_user_folder_and_damaged_checkpoint(tmp_path: Path, tiny_ckpt: Path, capsys) -> None:
    from ivr.export import main

    mine, before = user_folder(tmp_path)
    code, _, err = cli(main, ["--ckpt_path", tiny_ckpt, "--out", mine], capsys)
    expect_error(code, err, str(mine), "thesis.tex")
    assert snapshot(mine) == before
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(tiny_ckpt.read_bytes()[:3000])
    code, _, err = cli(main, ["--ckpt_path", bad, "--out", tmp_path / "hf"], capsys)
    expect_error(code, err, "bad.ckpt", "cannot be read")
    assert not (tmp_path / "hf").exists()
    code, _, err = cli(main, ["--ckpt_path", tiny_ckpt, "--out", tmp_path / "hf"], capsys)
    assert code == 0, err
    assert (tmp_path / "hf" / "config.json").is_file()
    code, _, err = cli(main, ["--ckpt_path", tiny_ckpt, "--out", tmp_path / "hf"], capsys)  # an earlier export
    assert code == 0, err


# --- fit: checkpoint folders, locks, resume -------------------------------------------------------


def fit_main():
    from ivr.fit import main

    return main


def test_fit_missing_catalog_is_one_line(tmp_path: Path) -> None:
    done = subproc(
        ["-m", "ivr.fit", *fit_args(tmp_path / "no_catalog", tmp_path, "--checkpoint_dir", str(tmp_path / "ck"))],
        tmp_path,
    )
    expect_error(done.returncode, done.stderr, "no_catalog", "does not exist")
    assert "compute_fn" not in done.stderr


@pytest.mark.parametrize(
    "case",
    [
        "missing_tokenizer",
        "yaml_typo",
        "last_in_empty",
        "foreign_ckpt_dir",
        "earlier_run",
        "locked",
        "damaged_last",
        "bad_interval",
    ],
)
def test_fit_bad_input(tmp_path: Path, work: Path, catalog: Path, tiny_ckpt: Path, capsys, case: str) -> None:
    import shutil

    from ivr.checkpoints import prepare_checkpoint_dir

    ck = tmp_path / "ck"
    extra = ["--checkpoint_dir", ck]
    needles: list[str] = []
    if case == "missing_tokenizer":
        extra += ["--data.tokenizer", tmp_path / "tokenizers" / "llama3"]
        needles = ["--data.tokenizer", "no such folder"]
    elif case == "yaml_typo":
        cfg = tmp_path / "mine.yaml"
        cfg.write_text(
            (ROOT / "configs" / "tiny.yaml").read_text().replace("  n_per_question: 30", "  n_per_qestion: 30")
        )
        extra += ["--config", cfg]
        needles = ["n_per_qestion", "did you mean --data.n_per_question?", str(cfg)]
    elif case == "last_in_empty":
        ck.mkdir()
        extra += ["--ckpt_path", "last"]
        needles = ["--ckpt_path last", str(ck), "nothing to resume"]
    elif case == "foreign_ckpt_dir":
        ck, _ = user_folder(tmp_path, "ck")
        extra = ["--checkpoint_dir", ck]
        needles = ["--checkpoint_dir", "thesis.tex"]
    elif case == "earlier_run":
        prepare_checkpoint_dir(ck, resume=False)  # an earlier ivr.fit's folder (marked)
        shutil.copy(tiny_ckpt, ck / "last.ckpt")
        needles = ["--checkpoint_dir", "earlier run", "last.ckpt", "--ckpt_path last", "--overwrite"]
    elif case == "locked":
        ck.mkdir()
        (ck / ".ivr-lock.json").write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": "now",
                    "command": "python -m ivr.fit (other)",
                }
            )
        )
        needles = ["another run is using this folder", f"pid {os.getpid()}", ".ivr-lock.json"]
    elif case == "damaged_last":
        prepare_checkpoint_dir(ck, resume=False)
        (ck / "last.ckpt").write_bytes(tiny_ckpt.read_bytes()[:4000])
        extra += ["--ckpt_path", "last"]
        needles = ["last.ckpt", "cannot be read as a checkpoint"]
    elif case == "bad_interval":
        extra += ["--save_every_n_steps", "-3"]
        needles = ["--save_every_n_steps=-3"]
    before = snapshot(tmp_path)
    code, _, err = cli(fit_main(), fit_args(catalog, tmp_path, *map(str, extra)), capsys)
    expect_error(code, err, *needles)
    if case != "foreign_ckpt_dir":
        after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(("ck/", "cache/", "runs/"))}
        assert after == {k: v for k, v in before.items() if not k.startswith(("ck/", "cache/", "runs/"))}
    if ck.exists():  # the user's / earlier run's files are untouched
        assert {k: v for k, v in snapshot(ck).items() if k not in (".ivr-output.json", "run.json")} == {
            k[len("ck/") :]: v
            for k, v in before.items()
            if k.startswith("ck/") and k not in ("ck/.ivr-output.json", "ck/run.json")
        }


def test_resume_names_the_file_and_the_run(tmp_path: Path, tiny_ckpt: Path, capsys) -> None:
    import shutil

    from ivr.checkpoints import note_run, prepare_checkpoint_dir, resolve_ckpt_path
    from ivr.errors import CheckpointError

    ck = tmp_path / "ck"
    prepare_checkpoint_dir(ck, resume=False, info={"config": "configs/tiny.yaml"})
    note_run(ck, log_dir="runs/tiny/logs/version_3")
    shutil.copy(tiny_ckpt, ck / "last.ckpt")
    assert resolve_ckpt_path("last", ck) == str(ck / "last.ckpt")
    said = capsys.readouterr().err
    assert "last.ckpt (step 2, epoch" in said and "configs/tiny.yaml" in said and "version_3" in said
    shutil.copy(tiny_ckpt, ck / "last-v1.ckpt")  # two runs' checkpoints in one folder: ambiguous
    with pytest.raises(CheckpointError, match="last-v1.ckpt"):
        resolve_ckpt_path("last", ck)


def test_run_lock_is_exclusive_and_stale_locks_are_taken_over(tmp_path: Path, capsys) -> None:
    from ivr.errors import RunLockedError
    from ivr.locks import LOCK, RunLock

    with RunLock(tmp_path / "ck"):
        with pytest.raises(RunLockedError, match="another run is using this folder"):
            RunLock(tmp_path / "ck").acquire()
    assert not (tmp_path / "ck" / LOCK).exists()
    # a run that was killed: its pid is gone
    (tmp_path / "ck" / LOCK).write_text(json.dumps({"pid": 2**22 + 7, "host": socket.gethostname()}))
    with RunLock(tmp_path / "ck") as lock:
        assert lock.held
    assert "stale lock" in capsys.readouterr().err
    # another machine's lock cannot be checked from here: refused, with the way out
    (tmp_path / "ck" / LOCK).write_text(json.dumps({"pid": 1, "host": "gpu-node-7", "started": "yesterday"}))
    with pytest.raises(RunLockedError, match="gpu-node-7.*delete"):
        RunLock(tmp_path / "ck").acquire()


# --- zero-shot ------------------------------------------------------------------------------------


def zero_shot_main():
    from ivr.zero_shot.__main__ import main

    return main


@pytest.mark.parametrize("case", ["foreign_out", "foreign_cache", "missing_model", "typo", "bad_probe"])
def test_zero_shot_bad_input(tmp_path: Path, catalog: Path, capsys, case: str) -> None:
    (tmp_path / "model").mkdir()  # a model folder that is checked only after the output folder
    args = ["--model", tmp_path / "model", "--data.catalog", catalog, "--out", tmp_path / "zs"]
    needles: list[str] = []
    if case == "foreign_out":
        mine, _ = user_folder(tmp_path, "zs")
        needles = [str(mine), "thesis.tex"]
    elif case == "foreign_cache":
        notes = tmp_path / "notes.txt"
        notes.write_text("my notes\nmore notes\n")
        args = ["--model", tmp_path / "model", "--data.catalog", catalog, "--cache", notes]
        needles = ["--cache", "notes.txt", "not a response cache"]
    elif case == "missing_model":
        args[1] = tmp_path / "models" / "nope"
        needles = ["--model", "no such folder"]
    elif case == "typo":
        args += ["--probe.demo_count", "[5]"]
        needles = ["demo_count", "did you mean --probe.demo_counts?"]
    elif case == "bad_probe":
        args += ["--probe.demographics", "sometimes"]
        needles = ["--probe.demographics", "sometimes"]
    before = snapshot(tmp_path)
    code, _, err = cli(zero_shot_main(), args, capsys)
    expect_error(code, err, *needles)
    assert snapshot(tmp_path) == before


def test_zero_shot_old_flags_still_parse(capsys) -> None:
    from ivr.cli import apply_aliases
    from ivr.zero_shot.__main__ import ALIASES, build_parser

    argv = apply_aliases(
        ["--model", "m", "--catalog", "c", "--probe.split_size", "9", "--probe.limit_people", "2"],
        ALIASES,
        "python -m ivr.zero_shot",
    )
    cfg = build_parser().parse_args(argv)
    assert (cfg.data.catalog, cfg.data.split_size, cfg.data.limit_eval_people) == ("c", 9, 2)
    assert capsys.readouterr().err.count("deprecated") == 3


# --- experiments ----------------------------------------------------------------------------------


def experiment_main():
    from ivr.experiment.__main__ import main

    return main


@pytest.mark.parametrize(
    "case", ["set_typo", "flag_typo", "yaml_typo", "recipe_typo", "foreign_out", "corrupt_run", "unknown_experiment"]
)
def test_experiment_bad_input(tmp_path: Path, catalog: Path, capsys, case: str) -> None:
    name = "evenness"
    args = ["--data.catalog", catalog, "--out", tmp_path / "e", "--progress", "false"]
    needles: list[str] = []
    if case == "set_typo":  # the issue's case: a typo used to run the default setting without a word
        args += ["--set", "dimensoin=Sex"]
        needles = ["dimensoin", "did you mean --dimension?"]
    elif case == "flag_typo":
        args += ["--quik", "true"]
        needles = ["quik", "did you mean --quick?"]
    elif case == "yaml_typo":
        cfg = tmp_path / "mine.yaml"
        cfg.write_text("data:\n  catlog: synthetic:people=2000,seed=0\n")
        args += ["--config", cfg]
        needles = ["catlog", "did you mean --data.catalog?", str(cfg)]
    elif case == "recipe_typo":
        name = "demo_count"
        args += ["--models", "[{name: m, train: {data: {demo_cont: mixed}}}]"]
        needles = ["demo_cont", "did you mean demo_count?"]
    elif case == "foreign_out":
        mine, _ = user_folder(tmp_path, "e")
        needles = [str(mine), "thesis.tex"]
    elif case == "corrupt_run":
        code, _, err = cli(experiment_main(), [name, *args], capsys)
        assert code == 0, err
        (tmp_path / "e" / "runs" / "00_africa.json").write_text("{half a file")
        needles = ["00_africa.json", "not valid JSON", "delete it"]
    elif case == "unknown_experiment":
        name = "evennes"
        needles = ["evennes", "did you mean evenness?"]
    before = snapshot(tmp_path)
    code, _, err = cli(experiment_main(), [name, *args], capsys)
    expect_error(code, err, *needles)
    assert snapshot(tmp_path) == before


# --- data export, templates -------------------------------------------------------------------------


def test_data_export_refuses_a_foreign_file_and_evil_templates(tmp_path: Path, catalog: Path, capsys) -> None:
    from ivr.data.__main__ import main

    notes = tmp_path / "train.jsonl"
    notes.write_text("my own notes, not an export\n")
    base = [
        "export",
        "--config",
        ROOT / "configs" / "tiny.yaml",
        "--data.catalog",
        catalog,
        "--data.cache_dir",
        tmp_path / "cache",
        "--data.split_size",
        "20",
        "--data.split_rule",
        "stratified",
        "--limit",
        "1",
        "--progress",
        "false",
    ]
    code, _, err = cli(main, [*base, "--out", notes], capsys)
    expect_error(code, err, "--out", "train.jsonl", "not a chat JSONL export")
    assert notes.read_text() == "my own notes, not an export\n"
    evil = tmp_path / "evil.jinja"
    evil.write_text("{{ known_statements }}{{ options }}{{ cycler.__init__.__globals__.os.popen('touch PWNED') }}")
    code, _, err = cli(main, [*base, "--out", tmp_path / "x.jsonl", "--layout", evil], capsys)
    expect_error(code, err, "evil.jinja", "sandbox")
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


# --- the contract itself -----------------------------------------------------------------------------


def test_debug_shows_the_traceback_and_bugs_keep_theirs(tmp_path: Path, capsys, monkeypatch) -> None:
    from ivr.errors import ConfigError

    def expected(argv):
        raise ConfigError("--x 3: bad")

    def bug(argv):
        return {}["missing"]

    assert run(expected, []) == 2 and capsys.readouterr().err == "error: --x 3: bad\n"
    with pytest.raises(ConfigError):
        run(expected, ["--debug"])
    assert "IVR_DEBUG" not in os.environ and run(expected, []) == 2  # --debug applies to that command only
    capsys.readouterr()
    monkeypatch.setenv("IVR_DEBUG", "1")
    with pytest.raises(ConfigError):
        run(expected, [])
    monkeypatch.delenv("IVR_DEBUG")
    with pytest.raises(KeyError):  # an unexpected error is a bug: never hidden behind one line
        run(bug, [])
    done = subproc(["-m", "ivr.catalog", "stats", str(tmp_path / "none"), "--debug"], tmp_path)
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_a_finished_command_destroys_its_process_group_and_a_failed_one_leaves_it() -> None:
    """Ranks that exit with a live gloo group can abort in interpreter finalisation (SIGABRT, and the
    launcher kills the run), so ``run`` destroys the group after success; after an error it must not
    (a peer may still be inside a collective)."""
    import torch
    import torch.distributed as dist

    from ivr.errors import ConfigError

    def command(fail: bool):
        def main(argv):
            dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
            total = torch.ones(3)
            dist.all_reduce(total)  # the group did work, as a training run's does
            if fail:
                raise ConfigError("--x: bad")
            return None

        return main

    assert run(command(False), []) == 0 and not dist.is_initialized()
    try:
        assert run(command(True), []) == 2 and dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_parser_is_linear_on_megabyte_replies() -> None:
    """1 MB replies of whitespace, digits and nesting parse (a quadratic parser would take hours)."""
    import signal

    from ivr.zero_shot.parser import NO_CHOICE, parse_answer

    good = '{"NSG1": {"choice": "NSG1_s2"}, "NSG2": {"choice": "NSG2_s1"}}'
    m = 1_000_000
    replies = {
        "whitespace": " " * m + good,
        "whitespace_value": '{"NSG1": {"choice": "' + " " * m + '"}, "NSG2": "NSG2_s1"}',
        "digits": "7" * m,
        "nested": '{"a":' * (m // 5) + good + "}" * (m // 5),
        "open_braces": "{" * m,
        "huge_number_in_one_group": '{"NSG1": {"choice": ' + "9" * 5000 + '}, "NSG2": {"choice": "NSG2_s1"}}',
    }
    expected = {
        "whitespace": [1, 0],
        "whitespace_value": [NO_CHOICE, 0],
        "digits": [NO_CHOICE, NO_CHOICE],
        "nested": [1, 0],
        "open_braces": [NO_CHOICE, NO_CHOICE],
        "huge_number_in_one_group": [NO_CHOICE, 0],
    }

    def hang(*_):
        raise TimeoutError("parse_answer did not finish within 120 s on a 1 MB reply")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(120)  # a hang guard, not a speed target (see benchmarks/parser.py)
    try:
        for name, reply in replies.items():
            assert parse_answer(reply, [2, 2]).choices == expected[name], name
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --- the docs' "What ivr never does" (docs/explanation/cli.md) ----------------------------------------


def never_section() -> str:
    text = (ROOT / "docs" / "explanation" / "cli.md").read_text(encoding="utf-8")
    m = re.search(r"^## What ivr never does\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, "docs/explanation/cli.md lacks the 'What ivr never does' section"
    return m.group(1)


def python_sources() -> list[Path]:
    return [p for folder in ("ivr", "baselines", "callbacks", "benchmarks") for p in (ROOT / folder).rglob("*.py")]


def unsafe_calls(path: Path) -> list[str]:
    """Calls in a source file that would unpickle, download, run code or render unsandboxed templates."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        const = {k: v.value for k, v in kw.items() if isinstance(v, ast.Constant)}
        where = f"{path.relative_to(ROOT)}:{node.lineno}: {name}"
        if name == "torch.load" and const.get("weights_only") is not True:
            found.append(f"{where} without weights_only=True")
        if const.get("weights_only") is False or const.get("allow_pickle") is True:
            found.append(f"{where} unpickles")
        if const.get("trust_remote_code") is True:
            found.append(f"{where} runs a model repository's code")
        if name in (
            "pickle.load",
            "pickle.loads",
            "dill.load",
            "cloudpickle.load",
            "yaml.unsafe_load",
            "yaml.full_load",
        ):
            found.append(f"{where} unpickles / runs YAML tags")
        if name == "yaml.load" and (
            "Loader" not in kw or "Safe" not in ast.unparse(kw["Loader"]) and ast.unparse(kw["Loader"]) != "loader"
        ):
            found.append(f"{where} without a safe loader")
        if name in ("eval", "exec", "compile"):
            found.append(f"{where} runs code")
        if name in ("jinja2.Environment", "Environment", "jinja2.Template", "Template"):
            found.append(f"{where} renders templates outside the sandbox")
        if name.split(".")[-1] in ("hf_hub_download", "snapshot_download", "urlopen", "urlretrieve") or name in (
            "requests.get",
            "requests.post",
            "httpx.get",
        ):
            found.append(f"{where} downloads")
    return found


def test_docs_never_overwrites_downloads_unpickles_or_runs_template_code() -> None:
    section = never_section().lower()
    for claim in ("overwrite", "download", "unpickle", "template"):
        assert claim in section, claim
    offenders = [hit for path in python_sources() for hit in unsafe_calls(path)]
    assert not offenders, offenders
    # yaml.load with the C safe loader is the one yaml.load the project has: check that it is safe
    codebook = (ROOT / "ivr" / "catalog" / "codebook.py").read_text()
    assert 'loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)' in codebook
