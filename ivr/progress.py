"""Progress a user can follow on a terminal and in a log file alike.

On a terminal :class:`Progress` is a tqdm bar. When stderr is not a terminal (a batch job, ``| tee``,
CI) a bar would print nothing useful or thousands of carriage returns, so it prints a plain line
instead -- ``[ivr] resemble all: 120/800 people (15%), 41.2/s, eta 16s`` -- at every tenth of the
work and at least every :data:`PLAIN_EVERY_S` seconds (``IVR_PROGRESS_SECONDS``), and once at the end;
work that takes under :data:`PLAIN_AFTER_S` seconds prints nothing.
:class:`Steps` prints one line per finished phase of a longer job (synthesis, tokenizer building).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

PLAIN_EVERY_S = float(os.environ.get("IVR_PROGRESS_SECONDS", "30"))
PLAIN_AFTER_S = 2.0  # work that ends sooner prints no progress line at all


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    stream = stream or sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def duration(seconds: float) -> str:
    """``"1h02m"``, ``"3m05s"`` or ``"12s"``."""
    s = int(round(max(seconds, 0)))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """A progress bar (terminal) or a plain progress line (anything else); silent when disabled.

    Args:
        total: units of work (None when unknown).
        desc: what is being done.
        unit: name of a unit (``"people"``, ``"prompts"``).
        enabled: False prints nothing.
        stream: where to write (default stderr).
        every_s: seconds between plain lines at most.
    """

    def __init__(
        self,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        enabled: bool = True,
        stream: TextIO | None = None,
        every_s: float | None = None,
        leave: bool = False,
    ) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.stream = stream or sys.stderr
        self.every_s = PLAIN_EVERY_S if every_s is None else every_s
        self.n = 0
        self.postfix = ""
        self._bar: Any = None
        self._start = self._last = time.monotonic()
        self._next_fraction = 0.1
        self._closed = False
        self._last_n = -1
        if enabled and is_terminal(self.stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", leave=leave, file=self.stream)

    @property
    def plain(self) -> bool:
        return self.enabled and self._bar is None

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.plain:
            now = time.monotonic()
            frac = self.n / self.total if self.total else 0.0
            if now - self._start < PLAIN_AFTER_S:
                return
            if (self.total and frac >= self._next_fraction) or now - self._last >= self.every_s:
                while self.total and frac >= self._next_fraction:
                    self._next_fraction += 0.1
                self._emit(now)

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def line(self, now: float | None = None) -> str:
        """The plain progress line for the current state."""
        now = time.monotonic() if now is None else now
        elapsed = now - self._start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.n}/{self.total} {self.unit}" if self.total else f"{self.n} {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.n / self.total:.0f}%)"
        parts.append(f"{rate:.1f}/s" if rate < 100 else f"{rate:,.0f}/s")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"eta {duration((self.total - self.n) / rate)}")
        else:
            parts.append(f"{duration(elapsed)} elapsed")
        if self.postfix:
            parts.append(self.postfix)
        return f"[ivr] {self.desc}: " + ", ".join(parts)

    def _emit(self, now: float) -> None:
        self._last, self._last_n = now, self.n
        print(self.line(now), file=self.stream, flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif (
            self.plain
            and self.n
            and self._last_n != self.n
            and (self._last_n >= 0 or time.monotonic() - self._start >= PLAIN_AFTER_S)
        ):
            self._emit(time.monotonic())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(
    iterable: Iterable[Any], desc: str = "", total: int | None = None, unit: str = "it", enabled: bool = True
) -> Iterator[Any]:
    """Iterate ``iterable`` with a :class:`Progress` (``total`` defaults to its length when it has one)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    bar = Progress(total, desc, unit, enabled)
    try:
        for item in iterable:
            yield item
            bar.update()
    finally:
        bar.close()


class Steps:
    """One line per finished phase of a job: ``[ivr] synthetic population: drew the population (12.1 s)``.

    Args:
        desc: the job.
        total: number of phases (shown as ``step k/total``).
        enabled: False prints nothing.
    """

    def __init__(self, desc: str, total: int | None = None, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.desc, self.total, self.enabled = desc, total, enabled
        self.stream = stream or sys.stderr
        self.k = 0
        self._start = self._last = time.monotonic()
        if enabled:
            print(f"[ivr] {desc}: started", file=self.stream, flush=True)

    def done(self, what: str) -> None:
        self.k += 1
        now = time.monotonic()
        if self.enabled:
            of = f" ({self.k}/{self.total})" if self.total else ""
            print(f"[ivr] {self.desc}: {what}{of} in {now - self._last:.1f} s", file=self.stream, flush=True)
        self._last = now
