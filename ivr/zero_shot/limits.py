"""How hard a run may push an endpoint: concurrency, retries with backoff, rate caps, progress.

:func:`call_with_retries` retries one request on the failures a server expects clients to retry
(HTTP 408/409/429/5xx, timeouts, dropped connections) with exponential backoff and jitter, honouring
``Retry-After``, and gives up after ``max_tries`` with an :class:`EndpointError` naming the endpoint
and the last status. :class:`RateLimiter` keeps requests and tokens within per-minute caps over a
sliding 60-second window. :class:`Progress` shows requests done, failures, tokens in / out and the
running cost: a tqdm bar on a terminal, a plain-text line every ``progress_every`` seconds otherwise.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from ivr.errors import IvrError

T = TypeVar("T")


class EndpointError(IvrError):
    """An endpoint refused a request, or kept failing after every allowed try."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what was kept and how to resume."""


class Retryable(Exception):
    """A failure worth another try: ``status`` is the HTTP status or ``"timeout"`` / ``"connection"``."""

    def __init__(self, status: int | str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.retry_after = status, detail, retry_after


@dataclass
class RequestLimits:
    """Limits on the requests one run sends.

    Attributes:
        concurrency: requests in flight at once.
        max_tries: tries per request (first try included) before the run stops with an error.
        timeout: seconds one request may take before it is abandoned (and retried).
        backoff: seconds before the first retry; doubled on each further one, with jitter.
        backoff_max: longest wait between tries (also caps a server's ``Retry-After``).
        requests_per_minute: cap on requests started in any 60 s window (None: no cap).
        tokens_per_minute: cap on prompt + completion tokens in any 60 s window (None: no cap).
        progress_every: seconds between plain-text progress lines when output is not a terminal.
    """

    concurrency: int = 8
    max_tries: int = 6
    timeout: float = 300.0
    backoff: float = 1.0
    backoff_max: float = 60.0
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    progress_every: float = 30.0

    def validate(self) -> None:
        """Raise one IvrError listing every bad limit."""
        bad = [
            f"--limits.{k}={v!r}: must be > 0"
            for k, v in (
                ("concurrency", self.concurrency),
                ("max_tries", self.max_tries),
                ("timeout", self.timeout),
                ("requests_per_minute", self.requests_per_minute or 1),
                ("tokens_per_minute", self.tokens_per_minute or 1),
            )
            if v <= 0
        ]
        bad += [
            f"--limits.{k}={v!r}: must be >= 0"
            for k, v in (
                ("backoff", self.backoff),
                ("backoff_max", self.backoff_max),
                ("progress_every", self.progress_every),
            )
            if v < 0
        ]
        if bad:
            raise IvrError("invalid request limits:\n  " + "\n  ".join(bad))


def backoff_delay(attempt: int, limits: RequestLimits, rng: random.Random, retry_after: float | None = None) -> float:
    """Seconds to wait before try ``attempt + 1`` (attempt 1 = after the first failure).

    Exponential (``backoff * 2**(attempt-1)``, capped at ``backoff_max``) with "equal jitter": half
    the step fixed, half uniform, so concurrent clients spread out. A server's ``Retry-After`` is
    a floor (capped at ``backoff_max`` as well).
    """
    step = min(limits.backoff_max, limits.backoff * 2 ** (attempt - 1))
    wait = step / 2 + rng.uniform(0, step / 2)
    if retry_after is not None:
        wait = max(wait, min(retry_after, limits.backoff_max))
    return wait


async def call_with_retries(
    send: Callable[[], Awaitable[T]],
    limits: RequestLimits,
    endpoint: str,
    rng: random.Random,
    on_retry: Callable[[Retryable], None] | None = None,
) -> T:
    """``await send()``, retrying :class:`Retryable` failures within ``limits``.

    Raises:
        EndpointError: still failing after ``limits.max_tries`` tries (names endpoint and status).
    """
    for attempt in range(1, limits.max_tries + 1):
        try:
            return await asyncio.wait_for(send(), timeout=limits.timeout)
        except asyncio.TimeoutError:
            err = Retryable("timeout", f"no reply within --limits.timeout={limits.timeout:g} s")
        except Retryable as caught:
            err = caught
        if on_retry is not None:
            on_retry(err)
        if attempt == limits.max_tries:
            what = f"HTTP {err.status}" if isinstance(err.status, int) else str(err.status)
            raise EndpointError(
                f"{endpoint}: {what} after {limits.max_tries} tries (last: {err.detail}); raise "
                "--limits.max_tries or lower --limits.concurrency / --limits.requests_per_minute, then re-run"
            )
        await asyncio.sleep(backoff_delay(attempt, limits, rng, err.retry_after))
    raise AssertionError("unreachable")


class RateLimiter:
    """Requests and tokens per minute over a sliding 60-second window.

    Args:
        requests_per_minute: cap on requests started in any 60 s (None: none).
        tokens_per_minute: cap on tokens in any 60 s (None: none). A request larger than the cap
            still goes, alone in its window, so it cannot wait forever.
        clock, sleep: time source and sleeper (tests pass fakes).
    """

    WINDOW = 60.0

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.rpm, self.tpm = requests_per_minute, tokens_per_minute
        self.clock, self.sleep = clock, sleep
        self._log: deque[list[float]] = deque()  # [start time, tokens] per request in the window
        self._lock = asyncio.Lock()

    def _wait_for(self, tokens: float, now: float) -> float:
        while self._log and self._log[0][0] <= now - self.WINDOW:
            self._log.popleft()
        if self.rpm is not None and len(self._log) >= self.rpm:
            return self._log[0][0] + self.WINDOW - now
        if self.tpm is not None and self._log:
            used = sum(e[1] for e in self._log)
            if used + tokens > self.tpm:
                free, at = used + tokens - self.tpm, None
                for start, spent in self._log:  # wait until enough old requests leave the window
                    free -= spent
                    at = start
                    if free <= 0:
                        break
                return at + self.WINDOW - now
        return 0.0

    async def acquire(self, tokens: float = 0.0) -> list[float]:
        """Wait until a request of ``tokens`` (estimated) fits; returns its entry (pass to :meth:`settle`)."""
        if self.rpm is None and self.tpm is None:
            return [self.clock(), tokens]
        async with self._lock:  # one waiter at a time, so requests go in arrival order
            while (wait := self._wait_for(tokens, self.clock())) > 0:
                await self.sleep(wait)
            entry = [self.clock(), float(tokens)]
            self._log.append(entry)
            return entry

    @staticmethod
    def settle(entry: list[float], tokens: float) -> None:
        """Replace a request's estimated tokens by what the server reported."""
        entry[1] = float(tokens)


class Progress:
    """Requests done / total, failures, tokens in and out, and the running cost.

    Args:
        total: requests the run will send.
        desc: what is being run (model name).
        prices: (USD per million prompt tokens, per million completion tokens), or None.
        every: seconds between plain-text lines when ``stream`` is not a terminal.
        stream: where progress goes (stderr).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        prices: tuple[float, float] | None = None,
        every: float = 30.0,
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.desc, self.prices, self.every = total, desc, prices, every
        self.stream = stream or sys.stderr
        self.done = self.failures = self.tokens_in = self.tokens_out = 0
        self.start = self._last = time.monotonic()
        self._bar = None
        if getattr(self.stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, file=self.stream, unit="req")

    def cost(self) -> float | None:
        if self.prices is None:
            return None
        return (self.tokens_in * self.prices[0] + self.tokens_out * self.prices[1]) / 1e6

    def summary(self) -> str:
        cost = self.cost()
        money = "" if cost is None else f", ${cost:,.4f}"
        return (
            f"{self.done}/{self.total} requests, {self.failures} failed tries, "
            f"tokens in {self.tokens_in:,} / out {self.tokens_out:,}{money}"
        )

    def update(self, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        self.done += 1
        self.tokens_in += prompt_tokens
        self.tokens_out += completion_tokens
        self._show()

    def failure(self) -> None:
        self.failures += 1
        self._show(force=False)

    def _show(self, force: bool = False) -> None:
        if self._bar is not None and not force:
            self._bar.n = self.done
            self._bar.set_postfix_str(self.summary().split(", ", 1)[1], refresh=True)
            return
        now = time.monotonic()
        if force or now - self._last >= self.every:
            self._last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = f", ETA {(self.total - self.done) / rate:,.0f} s" if rate > 0 and self.done < self.total else ""
            print(f"{self.desc}: {self.summary()}, {now - self.start:,.0f} s{eta}", file=self.stream, flush=True)

    def close(self) -> None:
        """Close the bar and print the final tally as one plain line (kept in logs)."""
        if self._bar is not None:
            self._bar.n = self.done
            self._bar.close()
        self._show(force=True)
