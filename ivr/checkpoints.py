"""Reading checkpoints safely and keeping one run per checkpoint folder.

* :func:`safe_load` is the only way the project reads a ``.ckpt``: ``torch.load(weights_only=True)``;
  a truncated, damaged or foreign file becomes one :class:`~ivr.errors.CheckpointError` naming it
  (never torch's advice to retry with ``weights_only=False``, which would run arbitrary code).
* :func:`claim_checkpoint_dir` takes the folder's :class:`ivr.locks.RunLock` (a second fit is kept
  out while one runs) and only then :func:`prepare_checkpoint_dir` makes ``--checkpoint_dir`` hold the
  checkpoints of one run: a fresh fit into a folder with an earlier run's checkpoints is refused
  (resume it, choose another folder, or ``--overwrite`` them).
* :func:`resolve_ckpt_path` turns ``--ckpt_path last`` / ``best`` into one file, naming it and the
  run it belongs to, and refuses an empty folder instead of silently starting from scratch.
"""

from __future__ import annotations

import json
import pickle
import shutil
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.errors import CheckpointError, ConfigError
from ivr.outputs import KINDS, check_output, read_marker, write_marker

if TYPE_CHECKING:
    from ivr.locks import RunLock

META_FILE = "meta.pt"  # Lightning's metadata file inside a distributed checkpoint folder
RUN_FILE = "run.json"  # who wrote the checkpoints of a folder (config, logs, start)
_UNSAFE_HINT = "weights_only"
CRC_CHECK_BYTES = 2 << 30  # checksums are verified for checkpoints up to 2 GiB (an 8B model's are skipped)


def is_distributed_checkpoint(path: str | Path) -> bool:
    """A DCP folder written by ``ModelParallelStrategy`` (``.metadata`` + ``meta.pt``)."""
    path = Path(path)
    return path.is_dir() and (path / ".metadata").is_file()


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if _UNSAFE_HINT in text:  # torch suggests an unsafe retry; say what it means instead
        return (
            "it holds Python objects other than tensors and plain data, which ivr never unpickles "
            "(only checkpoints written by ivr / Lightning are read)"
        )
    return f"{type(err).__name__}: {text[:200]}"


def safe_load(path: str | Path, flag: str = "--ckpt_path", mmap: bool = False) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one clear error.

    Args:
        path: a ``.ckpt`` / ``.pt`` file.
        flag: the flag that named it (for the message).
        mmap: map the tensors instead of reading them (cheap look at a large checkpoint's metadata).

    Raises:
        CheckpointError: missing, truncated, damaged, or not a plain-data PyTorch checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{flag} {path}: no such checkpoint file")
    damaged = None
    if not mmap and path.stat().st_size <= CRC_CHECK_BYTES and zipfile.is_zipfile(path):
        try:  # torch does not check the zip's CRCs: a bit flip in the weights would load silently
            with zipfile.ZipFile(path) as archive:
                damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            damaged = str(err)
    if damaged:
        raise CheckpointError(
            f"{flag} {path}: the checkpoint is damaged (its entry {damaged} fails its checksum); "
            "use another one (e.g. best-*.ckpt) or train again"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (
        RuntimeError,
        pickle.UnpicklingError,
        EOFError,
        OSError,
        ValueError,
        KeyError,
        IndexError,
        zipfile.BadZipFile,
        AttributeError,
        TypeError,
    ) as err:
        raise CheckpointError(
            f"{flag} {path}: cannot be read as a checkpoint ({_reason(err)}); the file is truncated, damaged or "
            "not a PyTorch checkpoint: use another one (e.g. best-*.ckpt) or train again"
        ) from None


def checkpoint_summary(path: str | Path, flag: str = "--ckpt_path") -> dict[str, Any]:
    """``{"global_step", "epoch"}`` of a ``.ckpt`` file or distributed folder (tensors are not read).

    Raises:
        CheckpointError: see :func:`safe_load`.
    """
    path = Path(path)
    if is_distributed_checkpoint(path):
        meta = safe_load(path / META_FILE, flag) if (path / META_FILE).is_file() else {}
    else:
        meta = safe_load(path, flag, mmap=True)
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{flag} {path}: not a Lightning checkpoint (no metadata); use a .ckpt written by ivr.fit"
        )
    return {"global_step": meta.get("global_step"), "epoch": meta.get("epoch")}


def checkpoint_files(folder: str | Path, pattern: str) -> list[Path]:
    """Checkpoints (files or distributed folders) in ``folder`` matching ``pattern`` (e.g. ``last*.ckpt``)."""
    folder = Path(folder)
    return (
        sorted(p for p in folder.glob(pattern) if p.is_file() or is_distributed_checkpoint(p))
        if folder.is_dir()
        else []
    )


def run_info(folder: str | Path) -> dict[str, Any]:
    """What :func:`prepare_checkpoint_dir` recorded about the run writing ``folder`` (empty if none)."""
    try:
        data = json.loads((Path(folder) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe(path: Path, folder: Path) -> str:
    """``checkpoints/tiny/last.ckpt (step 120, epoch 0) of the run started ... (config ..., logs ...)``."""
    summary = checkpoint_summary(path)
    info = run_info(folder)
    where = f"{path} (step {summary['global_step']}, epoch {summary['epoch']})"
    if info:
        bits = [f"started {info.get('started', '?')}"]
        if info.get("config"):
            bits.append(f"config {info['config']}")
        if info.get("log_dir"):
            bits.append(f"logs {info['log_dir']}")
        where += " of the run " + ", ".join(bits)
    return where


def resolve_ckpt_path(choice: str | None, folder: str | Path, flag: str = "--ckpt_path") -> str | None:
    """The checkpoint ``trainer.fit(ckpt_path=...)`` should resume from, checked.

    Args:
        choice: None (a fresh run), ``"last"``, ``"best"`` or a path.
        folder: the run's ``--checkpoint_dir``.
        flag: the flag (for messages).

    Returns:
        The checkpoint path, or None for a fresh run.

    Raises:
        CheckpointError: ``last``/``best`` with no such checkpoint in the folder (or several), a path
            that does not exist, or an unreadable checkpoint.
    """
    if choice is None:
        return None
    folder = Path(folder)
    if choice in ("last", "best"):
        found = checkpoint_files(folder, "last*.ckpt" if choice == "last" else "best-*.ckpt")
        if not found:
            held = (
                "does not exist"
                if not folder.exists()
                else "holds no " + ("last.ckpt" if choice == "last" else "best-*.ckpt")
            )
            raise CheckpointError(
                f"{flag} {choice}: --checkpoint_dir {folder} {held}, so there is nothing to resume; start a new run "
                f"without {flag}, or point --checkpoint_dir at the folder of the run to resume"
            )
        if len(found) > 1:
            raise CheckpointError(
                f"{flag} {choice}: --checkpoint_dir {folder} holds several candidates "
                f"({', '.join(p.name for p in found)}), from more than one run; give the file itself with {flag} PATH"
            )
        path = found[0]
    else:
        path = Path(choice)
        if not path.exists():
            raise CheckpointError(f"{flag} {path}: no such checkpoint file or folder")
    print(f"[ivr] resuming from {describe(path, folder)}", file=sys.stderr)
    return str(path)


def prepare_checkpoint_dir(
    folder: str | Path,
    resume: bool,
    overwrite: bool = False,
    info: dict[str, Any] | None = None,
    flag: str = "--checkpoint_dir",
) -> None:
    """Make ``folder`` the checkpoint folder of this run (call on global rank 0 only).

    Args:
        folder: ``--checkpoint_dir``.
        resume: the run resumes (``--ckpt_path`` given): the folder's checkpoints are the ones to continue.
        overwrite: a fresh run may delete the checkpoints of an earlier run there.
        info: what to record about the run (config, log dir); written to ``run.json`` for a fresh run.
        flag: the flag that named the folder.

    Raises:
        OutputFolderError: the folder holds files ivr did not write.
        ConfigError: a fresh run into a folder with an earlier run's checkpoints, without ``overwrite``.
    """
    folder = Path(folder)
    check_output(folder, "checkpoints", flag=flag)
    earlier = (
        [
            p
            for p in sorted(folder.iterdir())
            if p.name.endswith((".ckpt", ".partial", ".ckpt.old")) and KINDS["checkpoints"].owns(p.name)
        ]
        if folder.is_dir()
        else []
    )
    if earlier and not resume:
        if not overwrite:
            shown = ", ".join(p.name for p in earlier[:4]) + (" ..." if len(earlier) > 4 else "")
            raise ConfigError(
                f"{flag} {folder}: holds the checkpoints of an earlier run ({shown}); resume it with --ckpt_path last, "
                f"choose another {flag}, or pass --overwrite true to delete them"
            )
        for p in earlier:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        print(f"[ivr] --overwrite: deleted {len(earlier)} checkpoint(s) of an earlier run in {folder}", file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    if read_marker(folder) is None or not resume:
        write_marker(folder, KINDS["checkpoints"])
    if not resume or not run_info(folder):
        import time

        record = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), **(info or {})}
        tmp = folder / f".{RUN_FILE}.tmp"
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        tmp.replace(folder / RUN_FILE)


def claim_checkpoint_dir(
    folder: str | Path,
    resume: bool,
    overwrite: bool = False,
    info: dict[str, Any] | None = None,
    flag: str = "--checkpoint_dir",
) -> RunLock:
    """Check ``folder``, take its run lock, then prepare it (:func:`prepare_checkpoint_dir`); rank 0 only.

    The order matters: nothing in the folder is deleted or replaced (``--overwrite``'s clearing of an
    earlier run, the marker, ``run.json``) before this process holds the lock, so a second fit into
    the folder of a running one stops on the lock with that run's files untouched.

    Returns:
        The held lock (release it when the run ends; it is released here if preparing fails).

    Raises:
        OutputFolderError: the folder holds files ivr did not write, or cannot be written.
        RunLockedError: another live run holds the folder.
        ConfigError: see :func:`prepare_checkpoint_dir`.
    """
    from ivr.locks import RunLock

    check_output(folder, "checkpoints", flag=flag)  # looks and probes only: nothing is changed yet
    lock = RunLock(folder, flag=flag, info={k: v for k, v in (info or {}).items() if k == "config"}).acquire()
    try:
        prepare_checkpoint_dir(folder, resume, overwrite, info, flag)
    except BaseException:
        lock.release()
        raise
    return lock


def note_run(folder: str | Path, **fields: Any) -> None:
    """Add facts about the run (its log folder, once the trainer exists) to the folder's ``run.json``."""
    folder = Path(folder)
    record = {**run_info(folder), **fields}
    tmp = folder / f".{RUN_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / RUN_FILE)
