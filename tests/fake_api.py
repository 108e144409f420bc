"""A small OpenAI- and Anthropic-shaped HTTP server for the tests: loopback only, bounded, in-process.

It answers ``GET /v1/models``, ``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` /
``GET /v1/models/{id}`` (Anthropic) the way those APIs shape their replies, and can be scripted to
fail: ``script`` statuses first (an int status, or ``"hang"`` to sleep past the client's timeout),
then ``fail_after`` good replies before failing for good with ``fail_status``. A generated reply
answers every probe group of the prompt with option 1 (``NSGk_s1``); a prefilled request (vLLM's
``continue_final_message``) gets next-token logprobs for the option numbers. It records every
request (path, headers, body) and the most requests in flight at once, and refuses more than
``max_requests`` (so a runaway client cannot spin forever).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMPT_TOKENS, COMPLETION_TOKENS = 100, 10


class FakeAPI:
    def __init__(
        self,
        models: tuple[str, ...] = ("fake-model",),
        context: int | None = 4096,
        script: list[int | str] | None = None,
        fail_after: int | None = None,
        fail_status: int = 500,
        delay: float = 0.0,
        hang: float = 1.0,
        prefill: bool = True,
        logprobs: dict[str, float] | None = None,
        owner: str = "vllm",
        max_requests: int = 500,
        echo_key_on_401: bool = False,
        raw: dict[str, bytes] | None = None,
        model_extra: dict[str, Any] | None = None,
        echo_key: bool = False,
        with_logprobs: bool = True,
        gate: threading.Event | None = None,
    ) -> None:
        self.models, self.context, self.owner = models, context, owner
        # hostile replies: raw[path] is sent as is (HTTP 200, JSON content type) instead of the real answer;
        # model_extra is merged into every /v1/models entry; echo_key puts the Authorization header's value
        # into every field of a reply (content, logprob tokens, extra fields)
        self.raw, self.model_extra, self.echo_key = dict(raw or {}), dict(model_extra or {}), echo_key
        self.with_logprobs = with_logprobs  # False: continues a prefilled message but returns no logprobs
        self.gate = gate  # replies wait until the test sets it
        self.script = list(script or [])
        self.fail_after, self.fail_status, self.delay, self.hang = fail_after, fail_status, delay, hang
        self.prefill, self.max_requests, self.echo_key_on_401 = prefill, max_requests, echo_key_on_401
        self.logprobs = logprobs if logprobs is not None else {"1": -0.4, "2": -1.2, "3": -2.5, "4": -3.0, "x": -4.0}
        self.requests: list[dict[str, Any]] = []
        self.ok = self.inflight = self.max_inflight = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a stuck client connection cannot hold a server thread for long

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                fake.handle(self, None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                fake.handle(self, json.loads(self.rfile.read(length) or b"{}"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def sent(self, path: str = "/v1/chat/completions") -> list[dict[str, Any]]:
        """The recorded requests to ``path``."""
        return [r for r in self.requests if r["path"] == path]

    # -- replies -------------------------------------------------------------------------------
    def _send(
        self, h: BaseHTTPRequestHandler, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(h, status, json.dumps(body).encode(), headers)

    def _send_bytes(
        self, h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None
    ) -> None:
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        try:
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any] | None) -> None:
        path = h.path.split("?")[0]
        with self.lock:
            self.requests.append({"path": path, "headers": {k.lower(): v for k, v in h.headers.items()}, "body": body})
            if len(self.requests) > self.max_requests:
                return self._send(h, 503, {"error": {"message": "fake server: request limit reached"}})
            step = self.script.pop(0) if self.script and body is not None else None
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if path in self.raw:
                return self._send_bytes(h, 200, self.raw[path])
            self._route(h, path, body, step)
        finally:
            with self.lock:
                self.inflight -= 1

    def _route(self, h: BaseHTTPRequestHandler, path: str, body: dict[str, Any] | None, step: int | str | None) -> None:
        if body is None:
            return self._models(h, path)
        if step == "hang":
            time.sleep(self.hang)
        elif step is not None:
            return self._fail(h, int(step))
        with self.lock:
            broken = self.fail_after is not None and self.ok >= self.fail_after
        if broken:
            return self._fail(h, self.fail_status)
        if body.get("model") not in self.models:
            return self._send(h, 404, {"error": {"message": f"The model `{body.get('model')}` does not exist"}})
        if self.delay:
            time.sleep(self.delay)
        if self.gate is not None:
            self.gate.wait(timeout=60)
        with self.lock:
            self.ok += 1
        if path == "/v1/messages":
            return self._anthropic(h, body)
        return self._openai(h, body)

    def _fail(self, h: BaseHTTPRequestHandler, status: int) -> None:
        message = f"scripted failure {status}"
        if status == 401 and self.echo_key_on_401:
            message = f"Incorrect API key provided: {h.headers.get('authorization', '')[7:]}"
        headers = {"retry-after": "0"} if status == 429 else {}
        self._send(h, status, {"error": {"message": message, "type": "fake"}}, headers)

    def _models(self, h: BaseHTTPRequestHandler, path: str) -> None:
        if path.startswith("/v1/models/"):  # Anthropic: one model
            name = path.rsplit("/", 1)[1]
            if name not in self.models:
                return self._send(h, 404, {"error": {"message": "no such model"}})
            entry = {
                "id": name,
                "type": "model",
                "display_name": name,
                "created_at": "2024-06-20T00:00:00Z",
                "lifecycle": "active",
            }
            return self._send(h, 200, {**entry, **({"max_input_tokens": self.context} if self.context else {})})
        data = [
            {
                "id": m,
                "object": "model",
                "created": 0,
                "owned_by": self.owner,
                **({"max_model_len": self.context} if self.context else {}),
                **self.model_extra,
            }
            for m in self.models
        ]
        self._send(h, 200, {"object": "list", "data": data})

    @staticmethod
    def answer(prompt: str) -> str:
        groups = sorted({int(g) for g in re.findall(r"\(NSG(\d+)\)", prompt)})
        return json.dumps({f"NSG{g}": {"choice": f"NSG{g}_s1", "rationale": "fits"} for g in groups})

    def _openai(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        user = body["messages"][0]["content"]
        logprobs, text = None, self.answer(user)
        if body.get("continue_final_message"):
            if not self.prefill:  # as OpenAI's own API answers an unknown parameter
                return self._send(
                    h, 400, {"error": {"message": "Unrecognized request argument supplied: continue_final_message"}}
                )
            top = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in self.logprobs.items()]
            best = max(top, key=lambda e: e["logprob"])
            logprobs, text = {"content": [{**best, "top_logprobs": top}], "refusal": None}, best["token"]
            logprobs = logprobs if self.with_logprobs else None
        reply = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": logprobs,
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }
        if self.echo_key:
            reply = self._echoed(h, reply)
        self._send(h, 200, reply)

    @staticmethod
    def _echoed(h: BaseHTTPRequestHandler, reply: dict[str, Any]) -> dict[str, Any]:
        """The reply with the request's key in its text, its logprob tokens and extra fields (a hostile echo)."""
        key = h.headers.get("authorization", "")[len("Bearer ") :] or h.headers.get("x-api-key", "")
        choice = reply["choices"][0]
        choice["message"]["content"] = f"{choice['message']['content']} (you sent {key})"
        choice["message"]["reasoning_content"] = f"the key is {key}"
        choice["finish_reason"] = f"stop:{key}"
        if choice["logprobs"]:
            first = choice["logprobs"]["content"][0]
            first["top_logprobs"].append({"token": key, "logprob": -9.0, "bytes": list(key.encode())})
        return {**reply, "system_fingerprint": key, "id": f"chatcmpl-{key}"}

    def _anthropic(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        echo = (
            f" (you sent {h.headers.get('x-api-key') or h.headers.get('authorization', '')[7:]})"
            if self.echo_key
            else ""
        )
        reply = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": self.answer(body["messages"][0]["content"]) + echo}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS},
        }
        self._send(h, 200, reply)
