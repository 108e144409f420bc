"""Hostile output paths for every command that writes: read-only folders and mounts, symbolic links,
a user's own files named like ivr's outputs, and a second fit into the folder of a running one.

Each refusal asserts exit status 2, exactly one ``error:`` line naming the folder, no traceback, and
that every file below the test folder has the same SHA-256 as before (nothing written, nothing lost).
Every refusal comes before the command's work: the checkpoints given to ``evaluate`` / ``export``
are not even checkpoints, so a command that looked at them first would fail with another message.

Read-only folders: tests run as root here, and permissions do not stop root, so a folder is made
read-only with a read-only bind mount (``mount --bind`` + ``remount,ro``: the issue's "read-only
mount"), else ``chattr +i`` (an immutable folder), else, for a normal user, ``chmod 555``. The
mechanism is checked by a real write attempt; the cases skip, naming why, only when none works.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
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


def hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` (and the target of every link)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[rel + "/"] = "dir"
    return out


def one_error(code: int, err: str, *needles: str) -> str:
    """Exit status 2, one ``error:`` line (the last line), no traceback; returns the line."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2, err
    assert "Traceback" not in err, err
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def _can_write(folder: Path) -> bool:
    try:
        (folder / ".write-test").write_text("x")
    except OSError:
        return False
    (folder / ".write-test").unlink()
    return True


def _sh(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """Make ``folder`` (created if needed) unwritable for this process; yields the mechanism used."""
    folder.mkdir(parents=True, exist_ok=True)
    tried = []
    if os.geteuid() != 0:
        ways = [("chmod 555", lambda: (os.chmod(folder, 0o555), True)[1], lambda: os.chmod(folder, 0o755))]
    else:
        ways = [
            (
                "read-only bind mount",
                lambda: (
                    _sh("mount", "--bind", str(folder), str(folder))
                    and (_sh("mount", "-o", "remount,bind,ro", str(folder)) or not _sh("umount", str(folder)))
                ),
                lambda: _sh("umount", str(folder)),
            ),
            ("chattr +i", lambda: _sh("chattr", "+i", str(folder)), lambda: _sh("chattr", "-i", str(folder))),
        ]
    for name, make, undo in ways:
        if not make():
            tried.append(f"{name} failed")
            continue
        if _can_write(folder):
            undo()
            tried.append(f"{name} did not stop writes")
            continue
        try:
            yield name
        finally:
            undo()
        return
    pytest.skip("no way to make a folder read-only here (" + "; ".join(tried) + ")")


def user_files(folder: Path, names: dict[str, bytes]) -> None:
    for rel, data in names.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


# --- the commands ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import lightning.pytorch  # noqa: F401 - its log handler binds stderr now, not a test's closed capture

    from ivr.catalog.synth import build_synthetic

    return build_synthetic(tmp_path_factory.mktemp("hostile_outputs") / "cat200", n_people=200, seed=0)


def _main(module: str) -> Callable:
    import importlib

    return importlib.import_module(module).main


def command(name: str, catalog: Path, root: Path, out: Path) -> tuple[Callable, list[str]]:
    """The entry point and arguments of one command writing to ``out``; inputs live in ``root/in``."""
    inputs = root / "in"
    inputs.mkdir(exist_ok=True)
    not_a_ckpt = inputs / "model.ckpt"  # looked at only after the output folder: never reached
    not_a_ckpt.write_text("not a checkpoint\n")
    data = [
        "--data.catalog",
        catalog,
        "--data.cache_dir",
        inputs / "cache",
        "--data.split_size",
        "20",
        "--data.split_rule",
        "stratified",
    ]
    if name == "catalog synth":
        return _main("ivr.catalog.__main__"), ["synth", "--people", "100", "--out", out]
    if name == "catalog build":
        return _main("ivr.catalog.__main__"), [
            "build",
            "--codebook",
            FIXTURE / "my_survey.yaml",
            "--input",
            FIXTURE / "my_survey.csv",
            "--out",
            out,
        ]
    if name == "baselines":
        return _main("baselines.__main__"), [
            *data,
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
    if name == "evaluate":
        return _main("ivr.evaluate"), [
            "--config",
            ROOT / "configs" / "tiny.yaml",
            *data,
            "--baselines",
            "false",
            "--bootstrap",
            "0",
            "--progress",
            "false",
            "--ckpt_path",
            not_a_ckpt,
            "--out",
            out,
        ]
    if name == "export":
        return _main("ivr.export"), ["--ckpt_path", not_a_ckpt, "--out", out]
    if name == "experiment":
        return _main("ivr.experiment.__main__"), [
            "evenness",
            "--data.catalog",
            catalog,
            "--progress",
            "false",
            "--out",
            out,
        ]
    if name == "fit":
        return _main("ivr.fit"), [
            "--config",
            ROOT / "configs" / "tiny.yaml",
            *data,
            "--data.max_seq_length",
            "320",
            "--model.model_config",
            json.dumps(TINY_MODEL),
            "--trainer.max_steps",
            "1",
            "--trainer.default_root_dir",
            root / "runs",
            "--trainer.logger.init_args.save_dir",
            root / "runs",
            "--evaluate",
            "false",
            "--checkpoint_dir",
            out,
        ]
    if name == "data export":
        return _main("ivr.data.__main__"), [
            "export",
            "--config",
            ROOT / "configs" / "tiny.yaml",
            *data,
            "--limit",
            "1",
            "--progress",
            "false",
            "--out",
            out / "train.jsonl",
        ]
    raise AssertionError(name)


COMMANDS = ["catalog synth", "catalog build", "baselines", "evaluate", "export", "experiment", "fit", "data export"]


def call(main: Callable, args: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run(main, [str(a) for a in args])
    return code, capsys.readouterr().err


# --- read-only folders ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COMMANDS)
def test_read_only_parent_is_one_line_before_any_work(tmp_path: Path, catalog: Path, capsys, name: str) -> None:
    """``--out ro/new`` where ``ro`` cannot be written: the folder named, with the fix."""
    ro = tmp_path / "ro"
    ro.mkdir()
    main, args = command(name, catalog, tmp_path, ro / "new")
    before = hashes(tmp_path)
    with read_only(ro):
        code, err = call(main, args, capsys)
    line = one_error(code, err, str(ro), "cannot write")
    assert "writable" in line or "chmod" in line
    assert hashes(tmp_path) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_read_only_output_folder_is_one_line(tmp_path: Path, catalog: Path, capsys, name: str) -> None:
    """``--out ro`` where the (empty) folder itself cannot be written."""
    ro = tmp_path / "ro"
    ro.mkdir()
    main, args = command(name, catalog, tmp_path, ro)
    before = hashes(tmp_path)
    with read_only(ro):
        code, err = call(main, args, capsys)
    one_error(code, err, str(ro), "cannot write")
    assert hashes(tmp_path) == before


# --- a user's files, named like ivr's outputs ---------------------------------------------------------

SAFETENSORS = b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " + bytes(range(200))
LOOKALIKES: dict[str, dict[str, bytes]] = {
    "catalog synth": {"catalog.parquet": b"PAR1 my own", "manifest.json": b"{}", "codebook.json": b"{}"},
    "catalog build": {"catalog.parquet": b"PAR1 my own", "manifest.json": b"{}", "codebook.json": b"{}"},
    "baselines": {"table.json": b'{"mine": 1}', "table.csv": b"my,table\n", "sweep.csv": b"a,b\n"},
    "evaluate": {"table.json": b'{"mine": 1}', "mine_report.json": b"{}"},
    # a save_pretrained folder: the case (its weights used to be deleted)
    "export": {
        "config.json": b'{"model_type": "llama"}',
        "model.safetensors": SAFETENSORS,
        "tokenizer.json": b"{}",
        "tokenizer_config.json": b"{}",
        "special_tokens_map.json": b"{}",
    },
    "experiment": {"table.json": b"[]", "table.csv": b"my,table\n", "runs/a.json": b"{}"},
    "fit": {"last.ckpt": b"my own weights", "run.json": b'{"mine": true}'},
    "data export": {"train.jsonl": b"my own notes, not an export\n"},
}


@pytest.mark.parametrize("name", COMMANDS)
def test_user_folder_named_like_outputs_is_never_touched(tmp_path: Path, catalog: Path, capsys, name: str) -> None:
    """A folder without ivr's marker is never written into, whatever its files are called, even with
    ``--overwrite`` (which never deletes a file ivr did not write)."""
    mine = tmp_path / "mine"
    user_files(mine, LOOKALIKES[name])
    main, args = command(name, catalog, tmp_path, mine)
    if name != "data export":  # the one command writing a single file: no --overwrite
        args += ["--overwrite", "true"]
    before = hashes(tmp_path)
    code, err = call(main, args, capsys)
    one_error(code, err, str(mine), next(iter(LOOKALIKES[name])).split("/")[0])
    assert hashes(tmp_path) == before


# --- symbolic links ---------------------------------------------------------------------------------


def test_out_symlink_writes_into_its_target(tmp_path: Path, catalog: Path, capsys) -> None:
    """``--out link`` -> an empty folder: the output goes into the target, and the link still points there
    (a whole-folder writer and a resumable one); a link to a file is refused."""
    from ivr.outputs import claim_output, read_marker

    (tmp_path / "disk" / "cat").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "disk" / "cat")
    main, args = command("catalog build", catalog, tmp_path, tmp_path / "link")
    code, err = call(main, args, capsys)
    assert code == 0, err
    assert (tmp_path / "link").is_symlink() and (tmp_path / "disk" / "cat" / "catalog.parquet").is_file()
    code, err = call(main, args, capsys)  # its own earlier output, through the link: replaced
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "disk").iterdir()) == ["cat"]  # no temporary sibling left
    (tmp_path / "disk" / "exp").mkdir()
    (tmp_path / "elink").symlink_to(tmp_path / "disk" / "exp")
    assert claim_output(tmp_path / "elink", "experiment") == tmp_path / "disk" / "exp"
    assert read_marker(tmp_path / "disk" / "exp")["kind"] == "experiment"
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "flink").symlink_to(tmp_path / "notes.txt")
    main, args = command("catalog build", catalog, tmp_path, tmp_path / "flink")
    before = hashes(tmp_path)
    code, err = call(main, args, capsys)
    one_error(code, err, "flink", "not to a folder")
    assert hashes(tmp_path) == before


# --- the checkpoint lock comes before any deletion -----------------------------------------------------

HOLD = """
import sys, time
from ivr.locks import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_fit_overwrite_into_a_running_fits_folder_deletes_nothing(tmp_path: Path, catalog: Path, capsys) -> None:
    """The issue's case: ``ivr.fit --checkpoint_dir ck --overwrite true`` while another run holds ``ck``
    used to delete that run's checkpoints and replace its run.json before stopping on the lock."""
    from ivr.checkpoints import prepare_checkpoint_dir

    ck = tmp_path / "ck"
    prepare_checkpoint_dir(ck, resume=False, info={"config": "the running one"})
    (ck / "last.ckpt").write_bytes(b"the running fit's weights")
    (ck / "best-epoch=0-step=5.ckpt").write_bytes(b"its best")
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ck)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert other.stdout.readline().strip() == "held"
        main, args = command("fit", catalog, tmp_path, ck)
        before = hashes(tmp_path)
        code, err = call(main, [*args, "--overwrite", "true"], capsys)
        one_error(code, err, str(ck), "another run is using this folder", f"pid {other.pid}", socket.gethostname())
        assert hashes(tmp_path) == before
    finally:
        other.kill()
        other.wait()


def test_fit_report_dir_of_user_files_is_refused_before_training(tmp_path: Path, catalog: Path, capsys) -> None:
    """``ivr.fit --report_dir`` (where the evaluation is written after training) is checked up front."""
    mine = tmp_path / "mine"
    user_files(mine, LOOKALIKES["evaluate"])
    main, args = command("fit", catalog, tmp_path, tmp_path / "ck")
    before = hashes(tmp_path)
    code, err = call(main, [*args, "--evaluate", "true", "--report_dir", mine], capsys)
    one_error(code, err, "--report_dir", str(mine), "table.json")
    assert hashes(tmp_path) == before  # not even the checkpoint folder was made
