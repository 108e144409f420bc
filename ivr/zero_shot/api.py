"""Clients for models behind an HTTP API: OpenAI-compatible chat completions and Anthropic messages.

Both go through the providers' maintained Python clients (the ``ivr[api]`` extra), with the
clients' own retries off: :mod:`ivr.zero_shot.limits` retries, so that the bounds are ours. Every
client failure becomes either a :class:`~ivr.zero_shot.limits.Retryable` (HTTP 408/409/429/5xx,
timeouts, dropped connections) or an :class:`~ivr.zero_shot.limits.EndpointError` naming the
endpoint, the status and the fix. The API key is read from the environment variable named by
``--engine.api_key_env`` and is passed to the client only: it is never logged, never written, and
scrubbed (:class:`~ivr.zero_shot.replies.Scrubber`) from every reply, whatever field echoes it, and
from every server message. Replies are read from their raw bytes (:mod:`ivr.zero_shot.replies`): a
body that is cut off, not UTF-8, not JSON or of the wrong shape is one EndpointError naming the
request, the field and the fix.
"""

from __future__ import annotations

import email.utils
import math
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from ivr.errors import IvrError
from ivr.zero_shot.backends import BackendNotInstalledError
from ivr.zero_shot.limits import EndpointError, Retryable
from ivr.zero_shot.replies import Fields, Scrubber, read_json

API_BACKENDS = ("openai", "anthropic")
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
OFFICIAL_URL = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
RETRY_STATUS = {408, 409, 429}  # and every 5xx (Anthropic's 529 "overloaded" included)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
NO_KEY = "no-key"  # sent to a custom endpoint when no key variable is named (local vLLM needs none)


@dataclass
class Reply:
    """One answer: its text, token usage, why it stopped, and (logit scoring) the first token's logprobs."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish: str | None = None
    first_token_logprobs: dict[str, float] | None = None


@dataclass
class ServerInfo:
    """What the server says about the model: context length, its folder (vLLM's ``root``), owner."""

    context_length: int | None = None
    root: str | None = None
    owner: str | None = None


def read_api_key(backend: str, env_name: str | None, base_url: str | None) -> str | None:
    """The API key from the environment variable named by ``--engine.api_key_env``.

    Default variable: ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` for the provider's own endpoint.
    A custom ``--engine.base_url`` gets a key only when its variable is named explicitly, so a
    provider key is never sent to another server by accident.

    Raises:
        IvrError: the name is not a variable name (e.g. a key was pasted), or the variable is unset.
    """
    if env_name is not None and not _ENV_NAME.match(env_name):
        # never echo the value: it may be the key itself
        raise IvrError(
            "--engine.api_key_env: give the NAME of the environment variable that holds the key "
            "(e.g. OPENAI_API_KEY), not the key; keys are read from the environment only"
        )
    if env_name is None and base_url is not None:
        return None
    name = env_name or KEY_ENV[backend]
    value = os.environ.get(name, "").strip()
    if not value:
        raise IvrError(
            f"--engine.api_key_env: the environment variable {name} is not set or empty; "
            f"export {name}=... (keys are read from the environment only, never from a config file)"
        )
    return value


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date), if present."""
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return None


def translate(err: Exception, lib: Any, endpoint: str, scrub: Scrubber, hint: str = "") -> Exception:
    """A client library's exception as Retryable / EndpointError (or unchanged when it is neither)."""
    detail = scrub.text(str(getattr(err, "message", None) or err))[:500]
    if isinstance(err, lib.APIStatusError):
        status = err.status_code
        if status in RETRY_STATUS or status >= 500:
            return Retryable(status, detail, _retry_after(err.response.headers))
        fix = {
            401: "the server refused the key: check the variable named by --engine.api_key_env",
            403: "the key may not use this model: check the account or --model",
            404: "check --model (the server may not serve it or it was retired) and --engine.base_url",
        }.get(status, "")
        return EndpointError(f"{endpoint}: HTTP {status} ({detail}); " + (fix or hint or "check the request settings"))
    if isinstance(err, lib.APITimeoutError):
        return Retryable("timeout", detail)
    if isinstance(err, lib.APIConnectionError):
        return Retryable("connection failed", f"{detail} (is the server up at --engine.base_url?)")
    return err


def _import(backend: str) -> Any:
    try:
        return __import__(backend)
    except ImportError as err:
        raise BackendNotInstalledError(
            f"--backend {backend} needs the {backend!r} client package ({err}); "
            'install the extra: pip install "ivr[api]"'
        ) from err


class OpenAIChat:
    """Chat completions on any OpenAI-compatible server (OpenAI, vLLM, SGLang, TGI, ...).

    Args:
        model: the model name the server knows.
        base_url: the API root (``.../v1``); None = OpenAI's.
        key: the API key (None: none needed).
        timeout: seconds per request.
        json_mode: ask for ``response_format={"type": "json_object"}``.
        seed: sampling seed sent with each request (None: not sent).
    """

    backend = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None,
        key: str | None,
        timeout: float,
        json_mode: bool = False,
        seed: int | None = None,
    ) -> None:
        self.lib = _import("openai")
        self.model, self.json_mode, self.seed, self.scrub = model, json_mode, seed, Scrubber(key)
        self.base_url = (base_url or OFFICIAL_URL["openai"]).rstrip("/")
        self.endpoint = f"POST {self.base_url}/chat/completions"
        self.fix = (
            f"check that --engine.base_url ({self.base_url}) is the API root (.../v1) of an OpenAI-compatible "
            f"server serving {model!r}, and that server's logs"
        )
        self.client = self.lib.AsyncOpenAI(
            base_url=self.base_url, api_key=key or NO_KEY, max_retries=0, timeout=timeout
        )

    async def info(self) -> ServerInfo:
        """The model's entry in ``GET /models`` (vLLM adds ``max_model_len`` and ``root``); empty when absent.

        Raises:
            EndpointError: an HTTP 200 whose body is not a model list (names the field and value).
        """
        try:
            raw = await self.client.models.with_raw_response.list()
        except self.lib.OpenAIError:
            return ServerInfo()  # no model list (404, ...): --engine.max_model_len gives the context
        where = f"GET {self.base_url}/models"
        fix = self.fix + " (or give --engine.max_model_len and point --engine.base_url at a working server)"
        f = Fields(read_json(raw.content, where, fix, self.scrub), where, "a model list", fix)
        for i, _ in enumerate(f.get("data", list, "a list of models")):
            if f.get(f"data.{i}.id", str, "the model's name") == self.model:
                return ServerInfo(
                    f.length(f"data.{i}.max_model_len"),
                    f.get(f"data.{i}.root", str, "a folder path", optional=True),
                    f.get(f"data.{i}.owned_by", str, "text", optional=True),
                )
        return ServerInfo()

    async def send(
        self,
        text: str,
        max_tokens: int,
        prefill: str | None = None,
        label_ids: list[int] | None = None,
        top_logprobs: int = 20,
    ) -> Reply:
        """Greedy reply to one user message; with ``prefill``, one token continuing that assistant text
        and its log-probabilities (``label_ids``: ask vLLM for exactly those tokens' logprobs)."""
        messages = [{"role": "user", "content": text}]
        kw: dict[str, Any] = {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens}
        if self.seed is not None:
            kw["seed"] = self.seed
        hint = ""
        if prefill is not None:
            messages.append({"role": "assistant", "content": prefill})
            extra: dict[str, Any] = {"continue_final_message": True, "add_generation_prompt": False}
            if label_ids:
                extra["logprob_token_ids"] = list(label_ids)
            kw.update(
                max_tokens=1,
                logprobs=True,
                top_logprobs=len(label_ids) if label_ids else top_logprobs,
                extra_body=extra,
            )
            hint = (
                "--scoring logits needs a server that continues a prefilled assistant message and returns "
                "logprobs (vLLM, SGLang); use --scoring generate with this endpoint"
            )
        elif self.json_mode:
            kw["response_format"] = {"type": "json_object"}
            hint = "the server may not support JSON mode: set --engine.json_mode false"
        try:
            raw = await self.client.chat.completions.with_raw_response.create(model=self.model, messages=messages, **kw)
        except self.lib.OpenAIError as err:
            raise translate(err, self.lib, self.endpoint, self.scrub, hint) from None
        return self.read_reply(raw.content, prefill is not None, hint)

    def read_reply(self, body: bytes, logprobs: bool, hint: str = "") -> Reply:
        """A chat completion's text, usage, finish reason and (``logprobs``) first-token logprobs, checked."""
        f = Fields(
            read_json(body, self.endpoint, self.fix, self.scrub), self.endpoint, "an OpenAI chat completion", self.fix
        )
        if not f.get("choices", list, "a list of choices"):
            raise Retryable("empty reply", "the server returned no choices")
        f.get("choices.0.message", dict, "an object")
        reply = Reply(
            f.get("choices.0.message.content", str, "text", optional=True) or "",
            f.count("usage.prompt_tokens"),
            f.count("usage.completion_tokens"),
            f.get("choices.0.finish_reason", str, "text", optional=True),
        )
        if logprobs:
            if not f.get("choices.0.logprobs.content", list, "a list of tokens", optional=True):
                raise EndpointError(f"{self.endpoint}: the reply carries no logprobs; {hint}")
            first = "choices.0.logprobs.content.0"
            top = f.get(f"{first}.top_logprobs", list, "a list of alternatives", optional=True) or []
            pairs = [
                (f.get(f"{at}.token", str, "a token"), f.get(f"{at}.logprob", (int, float), "a number"), at)
                for at in [*(f"{first}.top_logprobs.{i}" for i in range(len(top))), first]
            ]
            for _, lp, at in pairs:
                if not math.isfinite(lp):  # Python's JSON reader takes NaN and Infinity
                    raise f.fail(f"{at}.logprob", lp, "a finite log-probability")
            reply.first_token_logprobs = {}
            for token, lp, _ in pairs:  # the alternatives first, then the chosen token if not among them
                reply.first_token_logprobs.setdefault(token, float(lp))
        return reply

    async def close(self) -> None:
        await self.client.close()


class AnthropicMessages:
    """Anthropic's messages API (temperature 0; ``top_p`` 1 is its default, so it is not sent)."""

    backend = "anthropic"

    def __init__(
        self,
        model: str,
        base_url: str | None,
        key: str | None,
        timeout: float,
        json_mode: bool = False,
        seed: int | None = None,
    ) -> None:
        if json_mode or seed is not None:
            flag = "--engine.json_mode true" if json_mode else f"--engine.seed {seed}"
            raise IvrError(
                f"{flag}: the Anthropic messages API has neither JSON mode nor a seed; unset it for --backend anthropic"
            )
        self.lib = _import("anthropic")
        self.model, self.scrub = model, Scrubber(key)
        self.base_url = (base_url or OFFICIAL_URL["anthropic"]).rstrip("/")
        self.endpoint = f"POST {self.base_url}/v1/messages"
        self.fix = (
            f"check that --engine.base_url ({self.base_url}) is an Anthropic messages API serving {model!r}, "
            "and that server's logs"
        )
        self.client = self.lib.AsyncAnthropic(
            base_url=self.base_url, api_key=key or NO_KEY, max_retries=0, timeout=timeout
        )

    async def info(self) -> ServerInfo:
        try:
            raw = await self.client.models.with_raw_response.retrieve(self.model)
        except self.lib.AnthropicError:
            return ServerInfo()
        where = f"GET {self.base_url}/v1/models/{self.model}"
        fix = self.fix + " (or give --engine.max_model_len and point --engine.base_url at a working server)"
        f = Fields(read_json(await raw.read(), where, fix, self.scrub), where, "a model entry", fix)
        f.get("", dict, "an object")
        return ServerInfo(f.length("max_input_tokens"), None, "anthropic")

    async def send(
        self,
        text: str,
        max_tokens: int,
        prefill: str | None = None,
        label_ids: list[int] | None = None,
        top_logprobs: int = 20,
    ) -> Reply:
        if prefill is not None:
            raise EndpointError(
                "--scoring logits: the Anthropic messages API returns no log-probabilities; use --scoring generate"
            )
        try:
            # temperature through extra_body: recent clients dropped the keyword, the API still takes it
            raw = await self.client.messages.with_raw_response.create(
                model=self.model,
                max_tokens=max_tokens,
                extra_body={"temperature": 0.0},
                messages=[{"role": "user", "content": text}],
            )
        except self.lib.AnthropicError as err:
            raise translate(err, self.lib, self.endpoint, self.scrub) from None
        return self.read_reply(await raw.read())

    def read_reply(self, body: bytes) -> Reply:
        """A message's text blocks joined, its usage and stop reason, checked."""
        f = Fields(
            read_json(body, self.endpoint, self.fix, self.scrub), self.endpoint, "an Anthropic message", self.fix
        )
        texts = [
            f.get(f"content.{i}.text", str, "text")
            for i, _ in enumerate(f.get("content", list, "a list of content blocks"))
            if f.get(f"content.{i}.type", str, "a block type") == "text"
        ]
        return Reply(
            "".join(texts),
            f.count("usage.input_tokens"),
            f.count("usage.output_tokens"),
            f.get("stop_reason", str, "text", optional=True),
        )

    async def close(self) -> None:
        await self.client.close()


def make_client(
    backend: str,
    model: str,
    base_url: str | None,
    key: str | None,
    timeout: float,
    json_mode: bool = False,
    seed: int | None = None,
) -> OpenAIChat | AnthropicMessages:
    """A client for ``backend`` (``openai`` or ``anthropic``)."""
    cls = {"openai": OpenAIChat, "anthropic": AnthropicMessages}.get(backend)
    if cls is None:
        raise IvrError(f"--backend {backend!r}: the HTTP backends are {API_BACKENDS}")
    return cls(model, base_url, key, timeout, json_mode, seed)
