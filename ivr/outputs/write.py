"""Writing an output folder: whole (:func:`write_output`, renamed into place) or claimed and then
filled file by file (:func:`claim_output`, resumable commands)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ivr.outputs.folders import check_output, folder_files, output_path, read_marker, temp_sibling, write_marker
from ivr.outputs.kinds import OutputKind, output_kind
from ivr.writable import WRITE_ERRNOS, unwritable


def write_output(
    out: str | Path,
    kind: str | OutputKind,
    write: Callable[[Path], None],
    overwrite: bool = False,
    flag: str = "--out",
) -> Path:
    """Write a whole folder atomically: ``write(tmp)`` fills a hidden sibling, which is renamed to ``out``.

    Args:
        out: destination folder (new, empty, or an earlier output this command may replace).
        kind: the kind this command writes (its marker goes into the folder with the list of files).
        write: fills the temporary folder.
        overwrite: allow replacing an ivr output of another kind.
        flag: the flag that named ``out``.

    Returns:
        ``out``.

    Raises:
        OutputFolderError: see :func:`check_output`; checked before any work and again before the swap.
    """
    out, kind = output_path(out), output_kind(kind)
    check_output(out, kind, overwrite, flag)
    tmp = temp_sibling(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as err:
        raise unwritable(flag, out, out.parent, err) from None
    try:
        write(tmp)
        write_marker(tmp, kind, folder_files(tmp))
        if out.exists():
            check_output(out, kind, overwrite, flag)  # nothing of the user's appeared meanwhile
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
                os.replace(tmp, out)
            else:
                old = out.with_name(f".{out.name}.old-{os.getpid()}")
                os.replace(out, old)
                os.replace(tmp, out)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError) and _inside(err, out):  # the disk filled, or a mount turned read-only
            raise unwritable(flag, out, out.parent, err) from None
        raise
    return out


def _inside(err: OSError, out: Path) -> bool:
    """Whether an OSError is about a path of the output being written (its folder or temporary sibling)."""
    names = [n for n in (err.filename, err.filename2) if n]
    parent = os.path.abspath(out.parent)
    return (
        bool(names)
        and err.errno in WRITE_ERRNOS
        and all(os.path.abspath(os.fsdecode(n)).startswith(parent + os.sep) for n in names)
    )


def claim_output(out: str | Path, kind: str | OutputKind, overwrite: bool = False, flag: str = "--out") -> Path:
    """Check, create and mark a folder a resumable command writes into file by file (never deleting).

    With ``overwrite``, an ivr output of another kind is first moved aside and removed.

    Raises:
        OutputFolderError: see :func:`check_output`.
    """
    out, kind = output_path(out), output_kind(kind)
    state = check_output(out, kind, overwrite, flag)
    try:
        if state.kind is not None and state.kind != kind.name:  # overwrite=True: replace the other output
            old = temp_sibling(out, "old")
            os.replace(out, old)
            shutil.rmtree(old, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        if (read_marker(out) or {}).get("kind") != kind.name:  # an earlier output of this kind keeps its marker
            write_marker(out, kind)
    except OSError as err:
        raise unwritable(flag, out, out if out.is_dir() else out.parent, err) from None
    return out
