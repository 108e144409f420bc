"""Whether a command can write where it was told to, found out before any work.

Permissions alone do not tell: root ignores them, while a read-only mount (``EROFS``) or an
immutable folder (``chattr +i``: ``EPERM``) stops root too. So :func:`check_writable` creates and
removes a hidden empty probe file in each folder a command will write, and turns a failure into one
:class:`~ivr.errors.OutputFolderError` naming the folder, the reason and the fix; :func:`writing`
does the same for a write that fails later (a full disk, a mount turned read-only).
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from ivr.errors import OutputFolderError

WRITE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EBUSY}


def _existing_ancestor(path: Path) -> Path:
    """The nearest folder at or above ``path`` that exists (where ``mkdir(parents=True)`` starts)."""
    probe = path.absolute()
    while not probe.is_dir() and probe != probe.parent:
        probe = probe.parent
    return probe


def _probe(folder: Path) -> OSError | None:
    """Create and remove an empty hidden file in ``folder``; the error if the folder cannot be written."""
    name = folder / f".ivr-probe.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"  # an ivr temp name: never foreign
    try:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as err:
        return err
    try:
        os.unlink(name)
    except OSError as err:
        return err
    return None


def unwritable(flag: str, path: Path, folder: Path, err: OSError) -> OutputFolderError:
    why = err.strerror or type(err).__name__
    if err.errno == errno.EROFS:
        fix = f"choose a folder on a writable file system with {flag} (or remount it read-write)"
    elif err.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = f"free some space or choose a folder on another disk with {flag}"
    elif err.errno == errno.EPERM:  # an immutable folder (chattr +i) or a policy refusing writes
        fix = f"make it writable (check lsattr {folder} for the immutable flag) or choose another folder with {flag}"
    else:
        fix = f"make it writable (e.g. chmod u+w {folder}) or choose another folder with {flag}"
    where = "" if folder == path else f" (in {folder})"
    return OutputFolderError(f"{flag} {path}: cannot write{where}: {why}; {fix} (nothing was changed)")


@contextlib.contextmanager
def writing(path: str | Path, flag: str = "--out") -> Iterator[None]:
    """Turn a failed write of ``path`` (read-only folder or mount, full disk) into one
    :class:`~ivr.errors.OutputFolderError` naming the folder and the fix; other errors pass through."""
    try:
        yield
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        path = Path(path)
        raise unwritable(flag, path, _existing_ancestor(path.parent), err) from None


def check_writable(
    path: str | Path,
    flag: str = "--out",
    in_place: bool = False,
    named: str | Path | None = None,
) -> None:
    """Refuse an output path this process cannot write, before any work, by writing a probe file.

    Permissions alone do not tell (root ignores them; a read-only mount or an immutable folder does
    not), so a hidden empty file is created and removed in each folder the command will write:

    * the folder itself when it exists;
    * unless ``in_place``, the folder that holds it (the whole output is written beside it and
      renamed into place), or, for a path that does not exist yet, the nearest existing folder above.

    Args:
        path: the output folder (it need not exist yet).
        flag: the flag that named it.
        in_place: the command writes into the folder itself and never replaces it.
        named: the path the flag gave when it is not ``path`` (a file inside it), for the message.

    Raises:
        OutputFolderError: a folder cannot be written (names it, the reason and the fix).
    """
    path = Path(path)
    shown = Path(named) if named is not None else path
    folders = [path] if path.is_dir() else []
    if not in_place or not path.is_dir():
        folders.append(_existing_ancestor(path.parent if path.is_dir() else path))
    for folder in dict.fromkeys(folders):
        err = _probe(folder)
        if err is not None:
            raise unwritable(flag, shown, folder, err)
    if not in_place and path.is_dir() and os.path.ismount(path):
        raise OutputFolderError(
            f"{flag} {path}: is a mount point, and ivr replaces the whole output folder when it writes; "
            f"give a new folder inside it with {flag} (e.g. {path / 'run1'})"
        )
