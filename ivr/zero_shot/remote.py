"""Zero-shot probing of a model behind an HTTP API (``--backend openai`` or ``anthropic``).

:class:`ServedModel` gives the runner what an in-process backend gives it (a context length and a
way to count a prompt's tokens) and sends every prompt not yet in the response cache: at most
``--limits.concurrency`` requests in flight, within the per-minute caps, each retried with backoff,
each reply appended to the fsync'd cache with its token usage the moment it arrives, so a killed
or failed run resumes by sending only what is missing.

``--scoring logits`` (servers that continue a prefilled assistant message and return logprobs,
such as vLLM) sends, per probe group, the prompt plus the answer's opening
``{"NSGk": {"choice": "NSGk_s`` (:func:`ivr.zero_shot.scoring.branch_text`, the opening the
transformers scorer uses) and reads the log-probabilities of the option numbers at the next token:
exactly those tokens through vLLM's ``logprob_token_ids`` when the tokenizer is known, else from
the ``top_logprobs`` alternatives (options outside them get probability 0, counted per line).

A failed request stops the run cleanly: the requests still in flight (the other groups of its prompt,
the other prompts) are cancelled and awaited before the client closes, so the one ``error:`` line
is all that is printed; Ctrl-C does the same and ends with :class:`~ivr.zero_shot.limits.Interrupted`
(what was answered is in the cache, and the same command resumes). The API key's value is scrubbed
from every reply as it is read and from every line written to the cache.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Awaitable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ivr.errors import IvrError
from ivr.zero_shot.api import ServerInfo, make_client, read_api_key
from ivr.zero_shot.backends import BackendOptions, encode_prompt, load_tokenizer
from ivr.zero_shot.cache import ResponseCache
from ivr.zero_shot.limits import EndpointError, Interrupted, Progress, RateLimiter, RequestLimits, call_with_retries
from ivr.zero_shot.replies import Scrubber
from ivr.zero_shot.run import Job, pending_jobs
from ivr.zero_shot.scoring import branch_text, option_branch

T = TypeVar("T")
BYTES_PER_TOKEN = 3  # an over-estimate of tokens for English BPE vocabularies (about 4 bytes a token)
CHAT_OVERHEAD = 32  # role headers and the like around one user message
LOGIT_RESERVE = 64  # tokens kept free after the prompt for the answer opening (as the hf scorer)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also from inside a running event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def gather_all(coros: Iterable[Awaitable[T]]) -> list[T]:
    """``asyncio.gather`` that leaves nothing running behind it: when one fails (or the caller is
    cancelled), the others are cancelled and awaited before the failure propagates."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        pending = [t for t in tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def estimate_tokens(text: str) -> int:
    """Prompt tokens when no tokenizer is known: one per 3 UTF-8 bytes plus the chat overhead."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN) + CHAT_OVERHEAD


def label_probs(logprobs: dict[str, float], labels: list[str]) -> tuple[list[float] | None, int]:
    """Probabilities over a group's options from the next token's logprobs, and how many were missing.

    Returns (None, n) when no option label is among the returned tokens (the group is unreadable).
    """
    found = [logprobs.get(label) for label in labels]
    missing = sum(lp is None for lp in found)
    if missing == len(labels):
        return None, missing
    top = max(lp for lp in found if lp is not None)
    weights = [0.0 if lp is None else math.exp(lp - top) for lp in found]
    total = sum(weights)
    return [w / total for w in weights], missing


class ServedModel:
    """A model behind an HTTP API, as the zero-shot runner sees it.

    Args:
        backend: ``openai`` or ``anthropic``.
        model: the model name the server knows.
        engine: endpoint settings (base_url, api_key_env, seed, json_mode, tokenizer, max_model_len, prices).
        limits: concurrency, retries, timeouts, rate caps.

    Raises:
        IvrError: no key where one is needed, no context length known, bad limits.
        BackendNotInstalledError: the client package is missing.
    """

    def __init__(self, backend: str, model: str, engine: BackendOptions, limits: RequestLimits) -> None:
        limits.validate()
        self.backend, self.model, self.engine, self.limits = backend, model, engine, limits
        self._key = read_api_key(backend, engine.api_key_env, engine.base_url)
        self.scrub = Scrubber(self._key)
        self._answered = 0
        probe = self._client()  # also checks the client package and the settings early
        self.endpoint, self.base_url = probe.endpoint, probe.base_url
        self.info: ServerInfo = run_sync(self._info())
        self.context_length = self._context()
        self.tokenizer, self.counted_with = self._tokenizer()
        prices = (engine.price_input, engine.price_output)
        self.prices = None if None in prices else (float(prices[0]), float(prices[1]))
        self._label_cache: dict[tuple[int, int], tuple[list[str], list[int] | None]] = {}

    def __repr__(self) -> str:  # never show the key
        return f"ServedModel({self.backend!r}, {self.model!r}, endpoint={self.endpoint!r})"

    def _client(self) -> Any:
        e = self.engine
        return make_client(self.backend, self.model, e.base_url, self._key, self.limits.timeout, e.json_mode, e.seed)

    async def _info(self) -> ServerInfo:
        client = self._client()
        try:
            return await client.info()
        finally:
            await client.close()

    def _context(self) -> int:
        reported, flag = self.info.context_length, self.engine.max_model_len
        if reported and flag:
            return min(reported, flag)
        if reported or flag:
            return int(reported or flag)
        raise IvrError(
            f"--engine.max_model_len: the server at {self.base_url} does not report the context length of "
            f"{self.model!r}; give it (e.g. 128000 for GPT-4o, 200000 for Claude 3.5 Sonnet)"
        )

    def _tokenizer(self) -> tuple[Any, str]:
        name = self.engine.tokenizer
        if name is None and self.info.root and (Path(self.info.root) / "tokenizer_config.json").is_file():
            name = self.info.root  # vLLM serving a local folder: count exactly with its tokenizer
        if name is None:
            return None, f"estimate (1 token per {BYTES_PER_TOKEN} UTF-8 bytes + {CHAT_OVERHEAD})"
        return load_tokenizer(name), f"tokenizer {name}"

    def budget(self, scoring: str, max_new_tokens: int) -> int:
        """Most prompt tokens: the context minus the reply (or the logit opening) budget."""
        return self.context_length - (max_new_tokens if scoring == "generate" else LOGIT_RESERVE)

    def encode(self, text: str) -> range:
        """The prompt's length in tokens as ``range(n)`` (the runner only needs the length; the text is sent):
        counted through the chat template with the tokenizer, else estimated."""
        if self.tokenizer is not None:
            return range(len(encode_prompt(self.tokenizer, text)))
        return range(estimate_tokens(text))

    def settings(self, scoring: str, max_new_tokens: int) -> dict[str, Any]:
        """Decoding settings hashed into the cache key with each prompt."""
        out: dict[str, Any] = {
            "scoring": scoring,
            "max_new_tokens": max_new_tokens,
            "temperature": 0.0,
            "top_p": 1.0,
            "api": self.backend,
            "seed": self.engine.seed,
            "json_mode": self.engine.json_mode,
        }
        if scoring == "logits":
            out["logprobs"] = "token_ids" if self._label_ids_wanted() else f"top{self.engine.top_logprobs}"
        return out

    def describe(self) -> dict[str, Any]:
        """Run metadata for results.json (no key, ever)."""
        return {
            "endpoint": self.endpoint,
            "context_length": self.context_length,
            "prompt_tokens_counted_with": self.counted_with,
            "json_mode": self.engine.json_mode,
            "seed": self.engine.seed,
        }

    def _label_ids_wanted(self) -> bool:
        return self.tokenizer is not None and self.info.owner == "vllm"

    def _labels(self, group: int, n_options: int) -> tuple[list[str], list[int] | None]:
        """Option label token texts for 1-based ``group`` and (vLLM) their token ids (cached)."""
        if self.tokenizer is None:
            return [str(j) for j in range(1, n_options + 1)], None
        if (group, n_options) not in self._label_cache:
            _, ids = option_branch(self.tokenizer, group, n_options)
            texts = [self.tokenizer.decode([i]) for i in ids]
            self._label_cache[group, n_options] = texts, (ids if self._label_ids_wanted() else None)
        return self._label_cache[group, n_options]

    def query(self, jobs: list[Job], cache: ResponseCache, model_key: str, scoring: str, max_new_tokens: int) -> int:
        """Send every job without a cached reply; returns how many prompts were sent.

        Raises:
            EndpointError: a request was refused, or failed ``max_tries`` times; what was answered
                before is in the cache (the message says how much).
            Interrupted: Ctrl-C (the message says how much was answered).
        """
        settings = self.settings(scoring, max_new_tokens)
        todo = pending_jobs(jobs, cache, model_key, settings, prompt_of=lambda job: job.text)
        if todo:
            self._answered = 0
            try:
                run_sync(self._send_all(todo, cache, model_key, scoring, max_new_tokens))
            except KeyboardInterrupt:
                raise Interrupted(
                    f"{self._answered} of the {len(todo)} prompts left to answer were answered and are "
                    f"in {cache.path}; re-running the same command sends only the rest"
                ) from None
        return len(todo)

    async def _send_all(
        self, todo: list[Job], cache: ResponseCache, model_key: str, scoring: str, max_new_tokens: int
    ) -> None:
        limits, client = self.limits, self._client()
        limiter = RateLimiter(limits.requests_per_minute, limits.tokens_per_minute)
        slots, rng = asyncio.Semaphore(limits.concurrency), random.Random()
        # prompts in progress are bounded too, so a prompt's requests (one per group for logits) go
        # together and prompts finish (and reach the cache) roughly in order, not all at the very end
        prompt_slots = asyncio.Semaphore(limits.concurrency)
        per_job = [len(j.n_options) if scoring == "logits" else 1 for j in todo]
        progress = Progress(sum(per_job), f"{self.model} ({self.backend})", self.prices, limits.progress_every)

        async def request(job: Job, prefill: str | None = None, labels: list[int] | None = None) -> Any:
            text, guess = job.text, len(job.ids) + (1 if prefill is not None else max_new_tokens)
            async with slots:
                entry = await limiter.acquire(guess)

                def send() -> Any:
                    return client.send(text, max_new_tokens, prefill, labels, self.engine.top_logprobs)

                reply = await call_with_retries(send, limits, client.endpoint, rng, lambda _err: progress.failure())
                limiter.settle(entry, reply.prompt_tokens + reply.completion_tokens)
            progress.update(reply.prompt_tokens, reply.completion_tokens)
            return reply

        async def one(job: Job) -> None:
            async with prompt_slots:
                await answer(job)

        async def answer(job: Job) -> None:
            where = {"row": job.row, "setup": job.setup, "form": job.form, "demos": job.demos}
            if scoring == "generate":
                replies = [await request(job)]
                response, extra = replies[0].text, {"finish": replies[0].finish}
            else:
                labels = [self._labels(k + 1, n) for k, n in enumerate(job.n_options)]
                replies = await gather_all(request(job, branch_text(k + 1), ids) for k, (_, ids) in enumerate(labels))
                scored = [label_probs(r.first_token_logprobs or {}, texts) for r, (texts, _) in zip(replies, labels)]
                response = json.dumps([p for p, _ in scored])
                extra = {"options_without_logprob": sum(m for _, m in scored)}
            usage = {
                "requests": len(replies),
                "prompt_tokens": sum(r.prompt_tokens for r in replies),
                "completion_tokens": sum(r.completion_tokens for r in replies),
            }
            if scoring == "generate":  # our count beside the server's: shows how good the budget's count is
                usage["prompt_tokens_counted"] = len(job.ids)
            cache.put(model_key, job.key, response, **where, usage=usage, **extra)
            self._answered += 1

        try:
            await gather_all(one(job) for job in todo)
        except EndpointError as err:
            raise EndpointError(
                f"{err}. {self._answered} of the {len(todo)} prompts left to answer were answered and are in "
                f"{cache.path}; re-running the same command sends only the rest"
            ) from None
        finally:  # nothing is in flight any more (gather_all awaited it)
            await client.close()
            progress.close()


def usage_summary(
    jobs: list[Job], cache: ResponseCache, model_key: str, prices: tuple[float, float] | None
) -> dict[str, Any]:
    """Requests, prompt / completion tokens (and cost) of the cached replies of ``jobs``, each prompt once."""
    total = {
        "requests": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "replies_cut_at_max_tokens": 0,
        "options_without_logprob": 0,
    }  # + prompt_tokens_counted (generate): our count of the prompt tokens
    for key in {job.key for job in jobs}:
        rec = cache.get(model_key, key) or {}
        for name, value in (rec.get("usage") or {}).items():
            total[name] = total.get(name, 0) + int(value)
        total["replies_cut_at_max_tokens"] += rec.get("finish") in ("length", "max_tokens")
        total["options_without_logprob"] += int(rec.get("options_without_logprob", 0))
    if prices is not None:
        total["cost_usd"] = round(
            (total["prompt_tokens"] * prices[0] + total["completion_tokens"] * prices[1]) / 1e6, 6
        )
    return total
