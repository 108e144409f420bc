"""Output folders the project owns: a marker file per folder, atomic replacement, stale-temp clean-up.

Every command that writes a folder (catalog build/synth, baselines, evaluate, export, zero_shot,
experiments, fit's checkpoint folder) writes only

* into a new or empty folder, or
* into a folder that carries the project's marker file ``.ivr-output.json`` of the same *kind*
  (the command's own earlier output), and holds nothing but files ivr wrote there.

Anything else is refused with one :class:`~ivr.errors.OutputFolderError` naming the folder and the
flag; ``--overwrite`` lets a command replace a folder of *another* kind that ivr made, never one
that holds a user's files. Ownership is never guessed from file names: a folder without the marker
that holds anything is refused, whatever its files are called (a user's ``save_pretrained`` folder
with ``config.json`` and ``model.safetensors`` is not an export). A folder the command cannot write
(read-only permissions, a read-only mount, an immutable folder) is refused up front by writing and
removing a probe file (:func:`ivr.writable.check_writable`); an ``--out`` that is a symbolic link
writes into the folder it points to (the link is kept).

Two ways of writing:

* :func:`write_output` (catalogs, baselines, evaluate, export): the whole folder is written under a
  hidden temporary name beside it and renamed into place, so nothing half-written ever appears; an
  earlier output is replaced only after the new one is complete. The marker lists every file.
* :func:`claim_output` (resumable commands: zero_shot, experiments): the folder is checked, created
  and marked, and the command then writes its own named files into it; nothing is ever deleted.

Hidden ``.<name>.tmp-<pid>-*`` / ``.<name>.old-<pid>`` siblings left by a killed run are removed (or,
for an ``.old`` copy whose new version never arrived, put back) on the next run; errors never name them.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.errors import OutputFolderError
from ivr.writable import WRITE_ERRNOS, check_writable, unwritable

MARKER = ".ivr-output.json"
LOCK = ".ivr-lock.json"  # ivr.locks.RunLock's file (never counted as a user's file)
_SPECIAL = {MARKER, LOCK}


@dataclass(frozen=True)
class OutputKind:
    """A kind of output folder.

    Attributes:
        name: the kind written into the marker (``"baselines"``).
        command: the command that writes it (for messages).
        patterns: glob patterns (relative paths) of every file this kind writes; inside a *marked*
            folder of a resumable kind (whose marker does not list files) they say which files are
            ivr's. They never make an unmarked folder ivr's.
        in_place: the command writes file by file into the folder itself (:func:`claim_output`, a
            checkpoint folder) rather than replacing the whole folder (:func:`write_output`), so only
            the folder itself, not its parent, must be writable.
    """

    name: str
    command: str
    patterns: tuple[str, ...] = ()
    in_place: bool = field(default=False, kw_only=True)

    def owns(self, rel: str) -> bool:
        return any(fnmatch.fnmatchcase(rel, p) for p in self.patterns)


_HF_FILES = ("config.json", "generation_config.json", "*.safetensors", "*.safetensors.index.json", "*.bin",
             "adapter_config.json", "tokenizer*", "special_tokens_map.json", "vocab.*", "merges.txt",
             "chat_template.*", "*.model", "added_tokens.json", "statement_tokenizer.json", "README.md")
KINDS: dict[str, OutputKind] = {k.name: k for k in (
    OutputKind("catalog", "python -m ivr.catalog build/synth",
               ("catalog.parquet", "manifest.json", "codebook.json", "synth_model.npz")),
    OutputKind("baselines", "python -m baselines",
               ("table.txt", "table.csv", "table.json", "sweep.csv", "plots/*.png")),
    OutputKind("evaluate", "python -m ivr.evaluate / ivr.fit",
               ("table.txt", "table.csv", "table.json", "*_report.json", "*_predictions.npz", "*_per_group.png")),
    OutputKind("export", "python -m ivr.export", _HF_FILES),
    OutputKind("zero_shot", "python -m ivr.zero_shot",
               ("responses.jsonl", "results.json", "table14.md", "figure2.png", "*_predictions.npz", "config.yaml"),
               in_place=True),
    # a list run (--models): one zero_shot output per model in a sub-folder, and the combined report
    OutputKind("zero_shot_models", "python -m ivr.zero_shot --models",
               ("results.json", "table14.md", "table2.md", "figure2.png", "config.yaml", "*/.ivr-output.json",
                "*/responses.jsonl", "*/results.json", "*/table14.md", "*/figure2.png", "*/*_predictions.npz",
                "*/config.yaml"), in_place=True),
    OutputKind("experiment", "python -m ivr.experiment",
               ("table.csv", "table.json", "table.txt", "figure*.png", "published.csv", "experiment.json",
                "runs/*.json", "models/*.ckpt", "per_group/*.png"), in_place=True),
    OutputKind("checkpoints", "python -m ivr.fit",
               ("best-*.ckpt", "last*.ckpt", "*.ckpt/*", "*.ckpt/**/*", "*.partial", "*.partial/*", "*.ckpt.old/*",
                "*.ckpt.old", "run.json"), in_place=True),
    OutputKind("output", "ivr"),  # a folder written through ivr.catalog.store.atomic_dir without a kind
    OutputKind("statement_tokenizer", "ivr.data.statement_tokenizer", _HF_FILES + ("statement_vocab.json",)),
)}


def output_kind(kind: str | OutputKind) -> OutputKind:
    """The registered :class:`OutputKind` of a name (a new kind may be passed as an object)."""
    if isinstance(kind, OutputKind):
        return kind
    if kind not in KINDS:
        raise KeyError(f"unknown output kind {kind!r}; register it in ivr.outputs.KINDS")
    return KINDS[kind]


def register_kind(kind: OutputKind) -> OutputKind:
    """Add a kind (for commands outside this module, e.g. a new experiment type)."""
    KINDS[kind.name] = kind
    return kind


# --- looking at a folder -----------------------------------------------------------------------------


# the hidden temporary files of ivr's atomic writers (".table.csv.123.tmp", ".figure.123.tmp.png")
_OWN_TEMP_RE = re.compile(r"^\..+\.tmp(\.[A-Za-z]+)?$")


def _files(folder: Path) -> list[str]:
    """Every file (and symlink) below ``folder`` as a relative POSIX path, markers and ivr's own
    temporary files excluded."""
    out = []
    for root, dirs, names in os.walk(folder):
        rel_root = Path(root).relative_to(folder)
        for name in names + [d for d in dirs if (Path(root) / d).is_symlink()]:
            rel = (rel_root / name).as_posix()
            if rel not in _SPECIAL and not _OWN_TEMP_RE.match(name):
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


def _kind(name: str) -> OutputKind | None:
    if name in KINDS:
        return KINDS[name]
    base = name.split(":", 1)[0]  # e.g. "experiment:demo_count" -> the experiment patterns
    return KINDS.get(base)


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
    files = _files(path)
    marker = read_marker(path)
    if marker is None:
        return FolderState(True, True, None, files, False)
    listed, kind = marker.get("files"), _kind(marker["kind"])
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
        raise OutputFolderError(f"{flag} {given}: is a link to the file {path}, not to a folder; "
                                f"choose a folder path with {flag}")
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
            f"{flag} (nothing was changed)")
    if state.kind is not None and state.kind != kind.name and not overwrite:
        other = _kind(state.kind)
        by = f" ({other.command})" if other else ""
        raise OutputFolderError(
            f"{flag} {path}: holds a {state.kind} output{by}, not a {kind.name} output; choose another folder "
            f"with {flag}, or pass --overwrite to replace it")
    check_writable(path, flag, kind.in_place)
    return state


def _marker(kind: OutputKind, files: Iterable[str] | None, created: str | None = None) -> dict[str, Any]:
    from ivr import __version__

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data: dict[str, Any] = {"ivr_output": 1, "kind": kind.name, "command": kind.command, "ivr": __version__,
                            "created": created or now, "updated": now}
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


# --- writing -----------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
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
            if _pid_alive(int(m.group("pid"))):  # a run in progress (this one included)
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


def write_output(
    out: str | Path, kind: str | OutputKind, write: Callable[[Path], None], overwrite: bool = False,
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
        write_marker(tmp, kind, _files(tmp))
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
    return bool(names) and err.errno in WRITE_ERRNOS and all(
        os.path.abspath(os.fsdecode(n)).startswith(parent + os.sep) for n in names)




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
            "(nothing was changed)")
    check_writable(path.parent, flag, in_place=True, named=path)
