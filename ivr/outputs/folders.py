"""Looking at an output folder before writing: whose it is (the marker), whether this command may write
it (:func:`check_output`), the clean-up of a killed run's hidden temporary siblings (:func:`clean_stale`),
and the same check for a single output file (:func:`check_output_file`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.errors import OutputFolderError
from ivr.outputs.kinds import MARKER, SPECIAL_FILES, OutputKind, known_kind, output_kind
from ivr.writable import check_writable

# --- looking at a folder -----------------------------------------------------------------------------


# the hidden temporary files of ivr's atomic writers (".table.csv.123.tmp", ".figure.123.tmp.png")
_OWN_TEMP_RE = re.compile(r"^\..+\.tmp(\.[A-Za-z]+)?$")


def folder_files(folder: Path) -> list[str]:
    """Every file (and symlink) below ``folder`` as a relative POSIX path, markers and ivr's own
    temporary files excluded."""
    out = []
    for root, dirs, names in os.walk(folder):
        rel_root = Path(root).relative_to(folder)
        for name in names + [d for d in dirs if (Path(root) / d).is_symlink()]:
            rel = (rel_root / name).as_posix()
            if rel not in SPECIAL_FILES and not _OWN_TEMP_RE.match(name):
                out.append(rel)
    return sorted(out)


def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """The marker of a folder, or None (also for an unreadable marker, which then counts as foreign)."""
    path = Path(folder) / MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("kind"), str) else None


@dataclass
class FolderState:
    """What an output path holds.

    Attributes:
        exists: something is at the path.
        is_dir: it is a folder.
        kind: the kind ivr wrote there (from the marker; never guessed from file names), or None.
        foreign: files ivr did not write (relative paths).
        marked: the folder carries a marker.
    """

    exists: bool
    is_dir: bool
    kind: str | None
    foreign: list[str]
    marked: bool

    @property
    def empty(self) -> bool:
        return self.is_dir and self.kind is None and not self.foreign


def inspect_folder(path: str | Path) -> FolderState:
    """Classify an output path (see :class:`FolderState`).

    Only the marker makes a folder ivr's: a folder without one that holds any file is foreign,
    whatever the files are called.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return FolderState(False, False, None, [], False)
    if not path.is_dir():
        return FolderState(True, False, None, [path.name], False)
    files = folder_files(path)
    marker = read_marker(path)
    if marker is None:
        return FolderState(True, True, None, files, False)
    listed, kind = marker.get("files"), known_kind(marker["kind"])
    if isinstance(listed, list):  # written whole: exactly these files are ours
        foreign = [f for f in files if f not in set(listed)]
    else:  # a resumable output: the files its kind writes
        foreign = [f for f in files if kind is None or not kind.owns(f)]
    return FolderState(True, True, marker["kind"], foreign, True)


def _shown(files: list[str], n: int = 3) -> str:
    return ", ".join(files[:n]) + (f" and {len(files) - n} more" if len(files) > n else "")


def output_path(path: str | Path) -> Path:
    """The folder a command writes for ``path``: a symbolic link is followed to its target (the link is
    kept and, after the write, still points at the new output); any other path is returned as given."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_output(path: str | Path, kind: str | OutputKind, overwrite: bool = False, flag: str = "--out") -> FolderState:
    """Refuse an output path this command may not write; returns its state otherwise.

    Args:
        path: the output folder (a symbolic link: the folder it points to).
        kind: the kind this command writes.
        overwrite: allow replacing a folder of another kind that ivr wrote.
        flag: the flag that named the path (for the message).

    Raises:
        OutputFolderError: a file, a folder with files ivr did not write (a folder without ivr's
            marker that holds anything), without ``overwrite`` an ivr output of another kind, or a
            folder this process cannot write.
    """
    given, kind = Path(path), output_kind(kind)
    path = output_path(given)
    if given.is_symlink() and path.exists() and not path.is_dir():
        raise OutputFolderError(
            f"{flag} {given}: is a link to the file {path}, not to a folder; choose a folder path with {flag}"
        )
    clean_stale(path)
    state = inspect_folder(path)
    if state.exists and not state.is_dir:
        raise OutputFolderError(f"{flag} {path}: is a file, not a folder; choose a folder path with {flag}")
    if state.foreign:
        what = f"an earlier {state.kind} output and " if state.kind else ""
        unmarked = "" if state.marked else f" and no {MARKER} marker"
        raise OutputFolderError(
            f"{flag} {path}: the folder holds {what}files ivr did not write ({_shown(state.foreign)}){unmarked}; "
            f"ivr writes only into a new or empty folder or its own earlier output: choose a new folder with "
            f"{flag} (nothing was changed)"
        )
    if state.kind is not None and state.kind != kind.name and not overwrite:
        other = known_kind(state.kind)
        by = f" ({other.command})" if other else ""
        raise OutputFolderError(
            f"{flag} {path}: holds a {state.kind} output{by}, not a {kind.name} output; choose another folder "
            f"with {flag}, or pass --overwrite to replace it"
        )
    check_writable(path, flag, kind.in_place)
    return state


def _marker(kind: OutputKind, files: Iterable[str] | None, created: str | None = None) -> dict[str, Any]:
    from ivr import __version__

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data: dict[str, Any] = {
        "ivr_output": 1,
        "kind": kind.name,
        "command": kind.command,
        "ivr": __version__,
        "created": created or now,
        "updated": now,
    }
    if files is not None:
        data["files"] = sorted(files)
    return data


def write_marker(folder: Path, kind: OutputKind, files: Iterable[str] | None = None) -> None:
    """Write (or refresh) the marker of a folder, atomically."""
    old = read_marker(folder) or {}
    data = _marker(kind, files, old.get("created") if old.get("kind") == kind.name else None)
    tmp = folder / f".{MARKER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MARKER)


# --- hidden temporary siblings of killed runs -----------------------------------------------------


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old)-(?P<pid>\d+)(?:-[0-9a-f]+)?$")
_LEGACY_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?:tmp-[A-Za-z0-9_]{8}|staging)$")
LEGACY_TMP_AGE_S = 3600  # temp folders of older ivr versions carry no pid: removed once this old


def clean_stale(out: str | Path) -> None:
    """Remove the hidden temporary siblings of ``out`` left by killed runs (never anything else).

    A ``.<name>.old-<pid>`` copy whose process is gone is put back when ``out`` itself is missing
    (the kill fell between the two renames of a replacement), else removed.
    """
    out = Path(out)
    parent = out.parent
    if not parent.is_dir():
        return
    for item in parent.iterdir():
        m = _TMP_RE.match(item.name)
        if m and m.group("name") == out.name:
            if pid_alive(int(m.group("pid"))):  # a run in progress (this one included)
                continue
            try:
                if m.group("what") == "old" and not out.exists():
                    os.replace(item, out)
                    print(f"[ivr] restored {out} from an interrupted replacement", file=sys.stderr)
                else:
                    shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
            except OSError:  # a folder that cannot be written: check_writable names it
                pass
            continue
        m = _LEGACY_TMP_RE.match(item.name)
        if m and m.group("name") == out.name and item.is_dir():
            try:
                age = time.time() - item.stat().st_mtime
            except OSError:
                continue
            if age > LEGACY_TMP_AGE_S:
                shutil.rmtree(item, ignore_errors=True)


def temp_sibling(out: Path, what: str = "tmp") -> Path:
    """A hidden path beside ``out`` that :func:`clean_stale` recognises (``.<name>.<what>-<pid>-<hex>``)."""
    return out.with_name(f".{out.name}.{what}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def check_output_file(path: str | Path, looks_ours: Callable[[Path], bool], what: str, flag: str = "--out") -> None:
    """Refuse to replace an existing file that ivr did not write.

    Args:
        path: the output file.
        looks_ours: whether an existing file is an earlier output of this command (read its content).
        what: what the command writes (for the message), e.g. ``"a chat JSONL export"``.
        flag: the flag that named it.

    Raises:
        OutputFolderError: the path is a folder, a file that is not an earlier output, or in a folder
            this process cannot write (a probe file is written and removed there).
    """
    path = Path(path)
    if path.is_dir():
        raise OutputFolderError(f"{flag} {path}: is a folder; give a file path for {what}")
    if path.exists() and path.stat().st_size > 0 and not looks_ours(path):
        raise OutputFolderError(
            f"{flag} {path}: the file exists and is not {what} written by ivr; choose another path with {flag} "
            "(nothing was changed)"
        )
    check_writable(path.parent, flag, in_place=True, named=path)
