"""A resumable, append-only JSONL cache of model responses keyed by (model, prompt hash).

Every response is appended as one line and fsync'ed before the run moves on, so a run that is
killed loses at most the prompt in flight; the next run loads the file and asks the model only for
prompts it has no line for. A last line cut short by the kill is ignored (and closed with a newline
so the next append starts cleanly). One process writes a cache file at a time. A file that holds
text but not one cached reply is not a cache: it is refused rather than appended to.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ivr.errors import OutputFolderError


def prompt_hash(prompt: str | list[int], settings: dict[str, Any] | None = None) -> str:
    """sha256 of a prompt (text or token ids) together with the decoding settings that shape its reply.

    Args:
        prompt: the exact model input.
        settings: decoding settings (max new tokens, temperature, ...); a change gives a new key.

    Returns:
        A hex digest.
    """
    blob = json.dumps({"prompt": prompt, "settings": settings or {}}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Responses already obtained, loaded from and appended to one JSONL file.

    Args:
        path: the JSONL file (created with its folder on the first append).
        flag: the flag that named it (for the message when it is not a cache).
        scrub: applied to every JSON line before it is written (an HTTP backend passes the scrubber of its
            API key, so no field of a record can carry the key to disk).

    Attributes:
        n_corrupt: lines that could not be read when loading (a cut-off last line after a kill).

    Raises:
        OutputFolderError: ``path`` is a folder, or a non-empty file without a single cached reply.
    """

    def __init__(self, path: str | Path, flag: str = "--cache", scrub: Callable[[str], str] | None = None) -> None:
        self.path = Path(path)
        self.scrub = scrub
        self._records: dict[tuple[str, str], dict[str, Any]] = {}
        self.n_corrupt = 0
        self._needs_newline = False
        if self.path.is_dir():
            raise OutputFolderError(f"{flag} {self.path}: is a folder; give the response cache's file path")
        if self.path.exists():
            self._load()
            if self.n_corrupt and not self._records:
                raise OutputFolderError(
                    f"{flag} {self.path}: the file is not a response cache written by ivr (none of its "
                    f"{self.n_corrupt} line(s) is a cached reply); choose another path with {flag} (nothing was changed)"
                )

    def _load(self) -> None:
        raw = self.path.read_bytes()
        self._needs_newline = bool(raw) and not raw.endswith(b"\n")
        for line in raw.decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = (str(rec["model"]), str(rec["prompt_hash"]))
                str(rec["response"])
            except (json.JSONDecodeError, KeyError, TypeError, RecursionError):
                self.n_corrupt += 1
                continue
            self._records.setdefault(key, rec)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._records

    def get(self, model: str, key: str) -> dict[str, Any] | None:
        """The cached record of (model, prompt hash), or None."""
        return self._records.get((model, key))

    def put(self, model: str, key: str, response: str, **extra: Any) -> None:
        """Append one response and make it durable (flush + fsync) before returning.

        Args:
            model: the model key (path or id plus anything that changes its replies).
            key: the prompt hash from :func:`prompt_hash`.
            response: the generated text.
            **extra: more JSON-serialisable fields stored with it (person, setup, timings, ...).
        """
        rec = {"model": model, "prompt_hash": key, "response": response, **extra}
        line = json.dumps(rec, ensure_ascii=False) + "\n"
        if self.scrub is not None:
            line = self.scrub(line)
            rec = json.loads(line)  # the record kept in memory is the one on disk
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            if self._needs_newline:
                fh.write("\n")
                self._needs_newline = False
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._records.setdefault((model, key), rec)
