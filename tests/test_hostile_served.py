"""Hostile served models: broken HTTP 200 replies, a server that echoes the API key, Ctrl-C, two runs at once.

The server is the tests' own small HTTP server on loopback (tests/fake_api.py) scripted to misbehave;
the client code under test is the real one (the openai / anthropic packages and ivr's readers). Every
bad reply must end the run with exit status 2 and one ``error:`` line naming the request and the fix,
without a traceback and without results; the key's value must never reach a file; Ctrl-C and a second
run into the same --out are tried with real processes and a real signal.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_api import FakeAPI
from test_zero_shot import tiny_catalog

from ivr.catalog.store import write_catalog
from ivr.zero_shot.__main__ import cli, main
from ivr.zero_shot.cache import ResponseCache

ROOT = Path(__file__).resolve().parents[1]
N_PROMPTS = 3 * 2 * 2  # people x setups x demonstration counts below


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory) -> str:
    return str(write_catalog(tiny_catalog(), tmp_path_factory.mktemp("hostile") / "catalog"))


def argv(api: FakeAPI, catalog_dir: str, out: Path, *extra: str, backend: str = "openai") -> list[str]:
    return [
        "--model",
        "fake-model",
        "--backend",
        backend,
        "--data.catalog",
        catalog_dir,
        "--out",
        str(out),
        "--engine.base_url",
        api.url + ("/v1" if backend == "openai" else ""),
        "--bootstrap",
        "0",
        "--probe.demo_counts",
        "[3, 6]",
        "--data.setups",
        "[0, 1]",
        "--data.limit_eval_people",
        "3",
        "--data.split_rule",
        "stratified",
        "--data.split_size",
        "6",
        "--data.min_valid",
        "0",
        "--probe.max_new_tokens",
        "12",
        "--limits.max_tries",
        "2",
        "--limits.backoff",
        "0.001",
        "--limits.progress_every",
        "1000",
        *extra,
    ]


def error_line(err: str) -> str:
    """The one ``error:`` line of a failed run (progress lines may come before it; no traceback)."""
    assert "Traceback" not in err and "Task exception" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


CHAT = "/v1/chat/completions"
COMPLETION = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "fake-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "{}"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
}


def completion(**change) -> bytes:
    body = json.loads(json.dumps(COMPLETION))
    for path, value in change.items():
        node = body
        *parents, last = path.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return json.dumps(body).encode()


HOSTILE = {  # name: (FakeAPI settings, extra flags, what the error line must say)
    "models cut off": (
        {"raw": {"/v1/models": b'{"object": "list", "data": [{"id": "fake-mo'}},
        (),
        "GET {url}/v1/models: HTTP 200 but the reply is JSON cut off after 43 bytes",
    ),
    "models not UTF-8": (
        {"raw": {"/v1/models": b'{"object": "list", "data": [{"id": "fake-model\xff"}]}'}},
        (),
        "GET {url}/v1/models: HTTP 200 but the reply is not UTF-8 text (byte 0xff at offset 46",
    ),
    "models a web page": (
        {"raw": {"/v1/models": b"<html><body>Welcome</body></html>"}},
        (),
        "GET {url}/v1/models: HTTP 200 but the reply is not JSON (Expecting value",
    ),
    "models a list": (
        {"raw": {"/v1/models": b"[1, 2]"}},
        (),
        "not a model list (the reply is [1, 2], expected an object)",
    ),
    "max_model_len text": (
        {"model_extra": {"max_model_len": "lots"}},
        (),
        "data.0.max_model_len is 'lots', expected a whole number of tokens > 0",
    ),
    "max_model_len fraction": ({"model_extra": {"max_model_len": 4096.5}}, (), "data.0.max_model_len is 4096.5"),
    "max_model_len negative": ({"model_extra": {"max_model_len": -5}}, (), "data.0.max_model_len is -5"),
    "max_model_len boolean": ({"model_extra": {"max_model_len": True}}, (), "data.0.max_model_len is True"),
    "chat cut off": (
        {"raw": {CHAT: completion()[:60]}},
        (),
        "POST {url}/v1/chat/completions: HTTP 200 but the reply is JSON cut off after 60 bytes",
    ),
    "chat not UTF-8": (
        {"raw": {CHAT: completion(choices__0__message__content="x").replace(b'"x"', b'"\xfe"')}},
        (),
        "POST {url}/v1/chat/completions: HTTP 200 but the reply is not UTF-8 text (byte 0xfe",
    ),
    "chat a web page": ({"raw": {CHAT: b"<html>proxy error</html>"}}, (), "the reply is not JSON (Expecting value"),
    "chat choices text": (
        {"raw": {CHAT: completion(choices="nope")}},
        (),
        "not an OpenAI chat completion (choices is 'nope', expected a list of choices)",
    ),
    "chat content a number": (
        {"raw": {CHAT: completion(choices__0__message__content=5)}},
        (),
        "choices.0.message.content is 5, expected text",
    ),
    "chat usage text": (
        {"raw": {CHAT: completion(usage__prompt_tokens="many")}},
        (),
        "usage.prompt_tokens is 'many', expected a whole number of tokens >= 0",
    ),
    "logprob not a number": (
        {
            "raw": {
                CHAT: completion(
                    choices__0__logprobs={"content": [{"token": "1", "logprob": float("nan"), "top_logprobs": []}]}
                )
            }
        },
        ("--scoring", "logits"),
        "choices.0.logprobs.content.0.logprob is nan, expected a finite",
    ),
    "anthropic cut off": (
        {"raw": {"/v1/messages": b'{"type": "message", "content": [{"type": "te'}},
        (),
        "POST {url}/v1/messages: HTTP 200 but the reply is JSON cut off",
    ),
    "anthropic content text": (
        {"raw": {"/v1/messages": b'{"type": "message", "content": "hi", "usage": {}}'}},
        (),
        "not an Anthropic message (content is 'hi', expected a list of content blocks)",
    ),
    "anthropic context text": (
        {"raw": {"/v1/models/fake-model": b'{"id": "fake-model", "max_input_tokens": "big"}'}},
        (),
        "GET {url}/v1/models/fake-model: HTTP 200 but the reply is not a model entry (max_input_tokens is 'big'",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_broken_reply_is_one_error_line_and_writes_nothing(case, catalog_dir, tmp_path, capsys):
    settings, flags, expected = HOSTILE[case]
    out = tmp_path / "o"
    backend = "anthropic" if case.startswith("anthropic") else "openai"
    with FakeAPI(**settings) as api:
        assert cli(argv(api, catalog_dir, out, *flags, backend=backend)) == 2
    line = error_line(capsys.readouterr().err)
    assert expected.format(url=api.url) in line
    assert "--engine.base_url" in line  # the fix names the setting to check
    assert not (out / "results.json").exists()
    cache = out / "responses.jsonl"
    assert not cache.exists() or cache.read_text() == ""


def test_logits_without_logprobs_stops_without_a_shutdown_traceback(catalog_dir, tmp_path):
    """The first request is refused while the other groups' requests are still in flight: they are cancelled and
    awaited before the client closes (they used to fail against the closed client, printing a traceback)."""
    out = tmp_path / "o"
    with FakeAPI(script=[400], delay=0.5) as api:
        done = _cli_process(argv(api, catalog_dir, out, "--scoring", "logits", "--limits.concurrency", "8"))
    assert done.returncode == 2
    line = error_line(done.stderr)
    assert f"POST {api.url}/v1/chat/completions: HTTP 400" in line and "use --scoring generate" in line
    assert not (out / "results.json").exists()


def _cli_process(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ivr.zero_shot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=_env(kw.pop("env", {})),
        **kw,
    )


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra}


# ``python -m ivr.zero_shot`` as a terminal starts it: Ctrl-C raises KeyboardInterrupt even where this test
# runs in the background of a shell that ignores SIGINT (its children would inherit the ignoring)
_AS_FROM_A_TERMINAL = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('ivr.zero_shot', run_name='__main__', alter_sys=True)"
)


def _popen(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _AS_FROM_A_TERMINAL, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(env or {}),
    )


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_the_key_never_reaches_a_file_even_when_the_server_echoes_it(catalog_dir, tmp_path, monkeypatch, capfd):
    key = "sk-ivr-echo-" + secrets.token_hex(16)
    monkeypatch.setenv("IVR_ECHO_KEY", key)
    cache = tmp_path / "elsewhere" / "cache.jsonl"
    with FakeAPI(echo_key=True) as api:
        base = argv(api, catalog_dir, tmp_path / "gen", "--engine.api_key_env", "IVR_ECHO_KEY")
        main(base)
        main(
            argv(
                api,
                catalog_dir,
                tmp_path / "logits",
                "--engine.api_key_env",
                "IVR_ECHO_KEY",
                "--scoring",
                "logits",
                "--cache",
                str(cache),
            )
        )
        main(argv(api, catalog_dir, tmp_path / "claude", "--engine.api_key_env", "IVR_ECHO_KEY", backend="anthropic"))
        sent = api.sent(CHAT) + api.sent("/v1/messages")
    # the key was sent with every request, so every echo carried it (logits: one request per group, 3 a prompt)
    assert len(sent) == N_PROMPTS * (1 + 3 + 1)
    assert all(key in r["headers"].get("authorization", "") + r["headers"].get("x-api-key", "") for r in sent)
    records = [json.loads(line) for line in (tmp_path / "gen" / "responses.jsonl").read_text().splitlines()]
    assert len(records) == N_PROMPTS and all(r["response"].endswith("(you sent ***)") for r in records)
    assert all(r["finish"] == "stop:***" for r in records)
    assert _lines(cache) == N_PROMPTS  # logits: one record per prompt
    claude = [json.loads(line) for line in (tmp_path / "claude" / "responses.jsonl").read_text().splitlines()]
    assert all(r["response"].endswith("(you sent ***)") for r in claude)
    shown = capfd.readouterr()
    assert key not in shown.out and key not in shown.err
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 13  # three runs' results, tables, figures, configs, markers and caches
    for path in files:
        assert key.encode() not in path.read_bytes(), path


def test_ctrl_c_prints_one_line_and_the_run_resumes(catalog_dir, tmp_path):
    out = tmp_path / "o"
    with FakeAPI(delay=0.4) as api:
        args = argv(api, catalog_dir, out, "--limits.concurrency", "1")
        run = _popen(args)
        _wait_for(lambda: _lines(out / "responses.jsonl") >= 2, "two cached replies")
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 130, err
        assert "Traceback" not in err
        interrupted = [line for line in err.splitlines() if line.startswith("interrupted:")]
        assert len(interrupted) == 1 and f"{out / 'responses.jsonl'}; re-running the same command" in interrupted[0]
        kept = ResponseCache(out / "responses.jsonl")
        assert kept.n_corrupt == 0 and 2 <= len(kept) < N_PROMPTS
        assert f"{len(kept)} of the {N_PROMPTS} prompts left to answer were answered" in interrupted[0]
        assert not (out / ".ivr-lock.json").exists() and not (out / "results.json").exists()
        sent = len(api.sent())
        main(args)  # the same command: only the rest is sent
        assert len(api.sent()) - sent == N_PROMPTS - len(kept)
    assert len(ResponseCache(out / "responses.jsonl")) == N_PROMPTS and (out / "results.json").is_file()


def test_a_second_run_into_the_same_out_is_refused_while_the_first_runs(catalog_dir, tmp_path, capsys):
    """Two processes: a CLI run waiting on its first reply, and this one (the second run, in-process)."""
    out = tmp_path / "o"
    with FakeAPI(gate=threading.Event()) as api:
        args = argv(api, catalog_dir, out, "--limits.concurrency", "1")
        first = _popen(args)
        _wait_for(lambda: len(api.sent()) >= 1, "the first run's first request")  # it holds the lock, waiting
        assert cli(args) == 2
        api.gate.set()  # now the first run's requests are answered
        _, first_err = first.communicate(timeout=60)
    line = error_line(capsys.readouterr().err)
    assert f"--out {out}: another run is using this folder (pid {first.pid} on " in line
    assert first.returncode == 0, first_err
    assert len(api.sent()) == N_PROMPTS  # every prompt was sent once: none by the second run
    assert len(ResponseCache(out / "responses.jsonl")) == N_PROMPTS and not (out / ".ivr-lock.json").exists()


def test_a_models_list_run_is_refused_while_another_holds_its_out(catalog_dir, tmp_path, capsys):
    from ivr.locks import RunLock

    out = tmp_path / "sweep"
    with FakeAPI() as api:
        config = {
            "backend": "openai",
            "out": str(out),
            "bootstrap": 0,
            "data": {
                "catalog": catalog_dir,
                "setups": [0],
                "limit_eval_people": 2,
                "split_rule": "stratified",
                "split_size": 6,
                "min_valid": 0,
            },
            "models": [{"model": "fake-model", "label": "m", "base_url": api.url + "/v1"}],
            "probe": {"demo_counts": [3], "max_new_tokens": 12},
            "limits": {"progress_every": 1000},
        }
        (tmp_path / "c.yaml").write_text(json.dumps(config))
        main(["--config", str(tmp_path / "c.yaml")])  # a first, finished run: the folder is a list run's output
        sent = len(api.sent())
        with RunLock(out, flag="--out"):  # another run (this process) holds it
            assert cli(["--config", str(tmp_path / "c.yaml")]) == 2
        assert len(api.sent()) == sent  # nothing was sent
    line = error_line(capsys.readouterr().err)
    assert f"--out {out}: another run is using this folder (pid {os.getpid()} on " in line
