"""A run's lock on a folder: ``.ivr-lock.json`` with pid, host, process start and command.

``ivr.fit`` holds one on its ``--checkpoint_dir`` for the whole run, so a second fit into the same
folder is refused while the first one runs (see CONTRACTS.md, section 5).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ivr.errors import RunLockedError
from ivr.outputs.folders import pid_alive
from ivr.outputs.kinds import LOCK

__all__ = ["LOCK", "RunLock"]


def _proc_start(pid: int) -> str | None:
    """The kernel's start time of a process (Linux), so a reused pid is not taken for the old run."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class RunLock:
    """A lock on a folder held by one running process (``.ivr-lock.json``: pid, host, start, command).

    A lock whose process is gone (same host, pid not running or a different process under that pid)
    is stale and taken over with a note. A lock held by a live process, or by another host (which
    cannot be checked from here), is refused with :class:`~ivr.errors.RunLockedError`.

    Args:
        folder: the folder to lock (created).
        flag: the flag that named it (for the message).
        info: more JSON fields to store (run id, config, ...).
    """

    def __init__(self, folder: str | Path, flag: str = "--checkpoint_dir", info: dict[str, Any] | None = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self.flag = flag
        self.info = info or {}
        self.held = False

    def holder(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _stale(self, data: dict[str, Any]) -> bool:
        if data.get("host") != socket.gethostname():
            return False
        pid = int(data.get("pid", -1))
        if pid <= 0 or not pid_alive(pid):
            return True
        start = data.get("proc_start")
        return start is not None and _proc_start(pid) not in (None, start)

    def acquire(self) -> RunLock:
        """Take the lock (or raise :class:`RunLockedError`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        mine = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "proc_start": _proc_start(os.getpid()),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join(sys.argv),
            **self.info,
        }
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                data = self.holder()
                if data is None:
                    continue  # released meanwhile
                if data and self._stale(data):
                    print(
                        f"[ivr] {self.path}: removed the stale lock of a run that is gone "
                        f"(pid {data.get('pid')}, started {data.get('started')})",
                        file=sys.stderr,
                    )
                    self.path.unlink(missing_ok=True)
                    continue
                who = (
                    (
                        f"pid {data.get('pid')} on {data.get('host')}, started {data.get('started')}: "
                        f"{data.get('command', '?')}"
                    )
                    if data
                    else "an unreadable lock file"
                )
                raise RunLockedError(
                    f"{self.flag} {self.folder}: another run is using this folder ({who}); wait for it to end, "
                    f"choose another {self.flag}, or delete {self.path} if that run is gone"
                ) from None
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(mine, fh, indent=2)
            self.held = True
            return self
        raise RunLockedError(f"{self.flag} {self.folder}: could not take the lock {self.path}; try again")

    def release(self) -> None:
        """Drop the lock if this process holds it."""
        if self.held:
            data = self.holder() or {}
            if data.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def close(self) -> None:
        """The same as :meth:`release` (for ``contextlib.closing`` around a lock taken earlier)."""
        self.release()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
