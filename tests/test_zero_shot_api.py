"""The HTTP backends (``--backend openai|anthropic``) through the real client packages, against the tests'
own loopback server (tests/fake_api.py): retries within bounds, a clear error that keeps every answer,
concurrency and rate caps, usage and cost, logprob scoring, a list of models in one command, and an
API key that is never written anywhere.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import pytest
from fake_api import COMPLETION_TOKENS, PROMPT_TOKENS, FakeAPI
from test_zero_shot import tiny_catalog, tiny_data, tiny_probe

from ivr.catalog.store import write_catalog
from ivr.errors import IvrError
from ivr.zero_shot.__main__ import build_parser, cli, main, zero_shot
from ivr.zero_shot.backends import BackendOptions
from ivr.zero_shot.cache import ResponseCache
from ivr.zero_shot.limits import EndpointError, RateLimiter, RequestLimits

N_PROMPTS = 3 * 2 * 2  # people x setups x demonstration counts of tiny_probe()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory) -> str:
    return str(write_catalog(tiny_catalog(), tmp_path_factory.mktemp("api") / "catalog"))


def fast(**kw) -> RequestLimits:
    return RequestLimits(
        **{
            "concurrency": 2,
            "max_tries": 5,
            "timeout": 10.0,
            "backoff": 0.001,
            "backoff_max": 0.01,
            "progress_every": 1e9,
            **kw,
        }
    )


def run(
    api: FakeAPI,
    catalog_dir: str,
    out: Path,
    backend: str = "openai",
    limits: RequestLimits | None = None,
    data: dict | None = None,
    **kw,
):
    engine = kw.pop("engine", None) or BackendOptions(base_url=api.url + ("/v1" if backend == "openai" else ""))
    # the study's 3 probes per category (6 per setup on this 12-question survey), so prompts carry 6 groups
    data = {"probes_per_category": 3, **(data or {})}
    return zero_shot(
        "fake-model",
        tiny_data(catalog_dir, **data),
        str(out),
        backend=backend,
        probe=kw.pop("probe", tiny_probe()),
        engine=engine,
        bootstrap=0,
        limits=limits or fast(),
        **kw,
    )


def cached(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]


def test_retries_429_500_and_timeouts_then_succeeds(catalog_dir, tmp_path):
    with FakeAPI(script=[429, 500, "hang", 503, 502], hang=1.0) as api:
        res = run(api, catalog_dir, tmp_path / "o", limits=fast(timeout=0.3))
    calls = api.sent()
    assert len(calls) == N_PROMPTS + 5  # five failed tries, then one good reply per prompt
    assert all(r["parse_failure_rate"] == 0.0 for r in res)
    assert len(cached(tmp_path / "o")) == N_PROMPTS
    body = calls[-1]["body"]
    assert body["temperature"] == 0.0 and body["top_p"] == 1.0 and body["max_tokens"] == tiny_probe().max_new_tokens
    usage = res[0]["usage"]
    counted = usage.pop("prompt_tokens_counted")
    assert usage == {
        "requests": 6,
        "prompt_tokens": 6 * PROMPT_TOKENS,
        "completion_tokens": 6 * COMPLETION_TOKENS,
        "replies_cut_at_max_tokens": 0,
        "options_without_logprob": 0,
    }
    assert counted > 6 * 300  # the estimate (1 token per 3 bytes) of six ~1 kB prompts
    saved = json.loads((tmp_path / "o" / "results.json").read_text())
    assert saved[0]["usage"]["prompt_tokens"] == 6 * PROMPT_TOKENS and saved[0]["context_length"] == 4096


def test_server_that_keeps_failing_ends_with_a_clear_error_and_keeps_every_answer(catalog_dir, tmp_path, capsys):
    out = tmp_path / "o"
    with FakeAPI(fail_after=5) as api:
        argv = [
            "--model",
            "fake-model",
            "--backend",
            "openai",
            "--data.catalog",
            catalog_dir,
            "--out",
            str(out),
            "--engine.base_url",
            api.url + "/v1",
            "--bootstrap",
            "0",
            "--limits.concurrency",
            "1",
            "--limits.max_tries",
            "3",
            "--limits.backoff",
            "0.001",
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
        ]
        assert cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    msg = err[-1]
    assert msg.startswith("error: ") and not any("Traceback" in line for line in err)
    assert f"POST {api.url}/v1/chat/completions: HTTP 500 after 3 tries" in msg
    assert f"5 of the {N_PROMPTS} prompts left to answer were answered" in msg and str(out / "responses.jsonl") in msg
    assert len(api.sent()) == 5 + 3
    assert len(ResponseCache(out / "responses.jsonl")) == 5
    assert not (out / "results.json").exists()  # nothing half-written
    with FakeAPI() as healthy:  # the same command against a working server sends only the rest
        argv[argv.index("--engine.base_url") + 1] = healthy.url + "/v1"
        main(argv)
    assert len(healthy.sent()) == N_PROMPTS - 5
    assert len(ResponseCache(out / "responses.jsonl")) == N_PROMPTS


def test_refused_request_is_not_retried(catalog_dir, tmp_path):
    with FakeAPI(models=("other",)) as api, pytest.raises(EndpointError, match=r"HTTP 404 .*check --model"):
        run(
            api,
            catalog_dir,
            tmp_path / "o",
            engine=BackendOptions(base_url=api.url + "/v1", max_model_len=4096),
            limits=fast(concurrency=1),
        )
    assert len(api.sent()) == 1


def test_concurrency_is_bounded(catalog_dir, tmp_path):
    with FakeAPI(delay=0.2) as api:
        run(api, catalog_dir, tmp_path / "o", limits=fast(concurrency=3))
    assert 2 <= api.max_inflight <= 3


def test_rate_limiter_keeps_requests_and_tokens_per_minute():
    now = [0.0]
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    async def go(limiter: RateLimiter, tokens: list[int]) -> list[float]:
        starts = []
        for t in tokens:
            entry = await limiter.acquire(t)
            starts.append(entry[0])
        return starts

    rpm = RateLimiter(requests_per_minute=2, clock=lambda: now[0], sleep=sleep)
    assert asyncio.run(go(rpm, [0] * 5)) == [0.0, 0.0, 60.0, 60.0, 120.0]
    now[0] = 0.0
    tpm = RateLimiter(tokens_per_minute=100, clock=lambda: now[0], sleep=sleep)
    # 60 + 30 fit; 50 more waits for the first to leave the window; 500 (over the cap) goes alone
    assert asyncio.run(go(tpm, [60, 30, 50, 500])) == [0.0, 0.0, 60.0, 120.0]


def test_progress_plain_text_with_tokens_and_cost(catalog_dir, tmp_path, capfd):
    engine = None
    with FakeAPI(script=[500]) as api:
        engine = BackendOptions(base_url=api.url + "/v1", price_input=2.5, price_output=10.0)
        res = run(api, catalog_dir, tmp_path / "o", engine=engine, limits=fast(progress_every=0.0))
    err = capfd.readouterr().err
    cost = (N_PROMPTS * PROMPT_TOKENS * 2.5 + N_PROMPTS * COMPLETION_TOKENS * 10.0) / 1e6
    assert (
        f"fake-model (openai): {N_PROMPTS}/{N_PROMPTS} requests, 1 failed tries, "
        f"tokens in {N_PROMPTS * PROMPT_TOKENS:,} / out {N_PROMPTS * COMPLETION_TOKENS:,}, ${cost:,.4f}" in err
    )
    assert sum(r["usage"]["cost_usd"] for r in res) == pytest.approx(cost)


def test_resume_sends_only_missing_prompts(catalog_dir, tmp_path):
    with FakeAPI() as api:
        run(api, catalog_dir, tmp_path / "o", probe=tiny_probe(demo_counts=[3]))
        first = len(api.sent())
        res = run(api, catalog_dir, tmp_path / "o")
    assert first == N_PROMPTS // 2 and len(api.sent()) == N_PROMPTS  # the d=3 prompts were not sent again
    assert res[0]["queried"] == N_PROMPTS // 2


def test_context_length_from_the_server_or_the_flag(catalog_dir, tmp_path):
    with FakeAPI(context=760) as api:  # small: prompts lose demonstrations to fit
        res = run(api, catalog_dir, tmp_path / "o", probe=tiny_probe(max_new_tokens=12, demo_counts=[6]))
        assert res[0]["context_length"] == 760 and res[0]["prompts_truncated"] > 0
        assert res[0]["prompt_tokens_counted_with"].startswith("estimate")
    with FakeAPI(context=None) as api:
        with pytest.raises(IvrError, match=r"--engine.max_model_len: .* does not report the context length"):
            run(api, catalog_dir, tmp_path / "o2")
        res = run(
            api, catalog_dir, tmp_path / "o3", engine=BackendOptions(base_url=api.url + "/v1", max_model_len=8192)
        )
        assert res[0]["context_length"] == 8192


def test_logits_through_logprobs(catalog_dir, tmp_path):
    probe = tiny_probe(demo_counts=[6])
    with FakeAPI() as api:
        res = run(api, catalog_dir, tmp_path / "o", scoring="logits", probe=probe, data={"setups": [0]})
    calls = api.sent()
    assert len(calls) == 3 * 6  # one request per probe group (3 people x 6 groups)
    body = calls[0]["body"]
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["messages"][-1]["content"].startswith('{"NSG') and body["max_tokens"] == 1 and body["logprobs"]
    assert res[0]["parse_failure_rate"] == 0.0 and res[0]["usage"]["requests"] == 18
    cal = res[0]["report"]["calibration"]["polar"]
    assert 0.0 <= cal["brier"] <= 2.0
    line = cached(tmp_path / "o")[0]
    probs = json.loads(line["response"])
    assert probs[0] == pytest.approx([1 / (1 + 2.718281828**-0.8), 1 - 1 / (1 + 2.718281828**-0.8)], rel=1e-6)

    with FakeAPI(logprobs={"2": -0.1, "x": -2.0}) as api:  # option 1 not among the alternatives
        res = run(api, catalog_dir, tmp_path / "o2", scoring="logits", probe=probe, data={"setups": [0]})
    assert res[0]["usage"]["options_without_logprob"] == 18 and res[0]["parse_failure_rate"] == 0.0
    with FakeAPI(logprobs={"x": -0.1}) as api:  # no option at all: every group unreadable, counted wrong
        res = run(api, catalog_dir, tmp_path / "o3", scoring="logits", probe=probe)
    assert res[0]["parse_failure_rate"] == 1.0
    with FakeAPI(prefill=False) as api, pytest.raises(EndpointError, match="continues a prefilled assistant message"):
        run(api, catalog_dir, tmp_path / "o4", scoring="logits", probe=probe)


def test_anthropic_messages(catalog_dir, tmp_path):
    with FakeAPI() as api:
        res = run(api, catalog_dir, tmp_path / "o", backend="anthropic")
        assert len(api.sent("/v1/messages")) == N_PROMPTS
        body = api.sent("/v1/messages")[0]["body"]
        assert body["temperature"] == 0.0 and "top_p" not in body
        assert res[0]["parse_failure_rate"] == 0.0 and res[0]["usage"]["completion_tokens"] == 6 * COMPLETION_TOKENS
        with pytest.raises(EndpointError, match="no log-probabilities"):
            run(api, catalog_dir, tmp_path / "o2", backend="anthropic", scoring="logits")
        with pytest.raises(IvrError, match="neither JSON mode nor a seed"):
            run(
                api,
                catalog_dir,
                tmp_path / "o3",
                backend="anthropic",
                engine=BackendOptions(base_url=api.url, json_mode=True),
            )


def test_json_mode_and_seed_are_sent(catalog_dir, tmp_path):
    with FakeAPI() as api:
        run(api, catalog_dir, tmp_path / "o", engine=BackendOptions(base_url=api.url + "/v1", json_mode=True, seed=7))
    body = api.sent()[0]["body"]
    assert body["response_format"] == {"type": "json_object"} and body["seed"] == 7


def test_api_key_is_never_written_or_shown(catalog_dir, tmp_path, monkeypatch, capfd):
    key = "sk-ivr-test-" + secrets.token_hex(16)
    monkeypatch.setenv("IVR_TEST_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak-to-a-custom-server")
    out = tmp_path / "o"
    with FakeAPI() as api:
        argv = [
            "--model",
            "fake-model",
            "--backend",
            "openai",
            "--data.catalog",
            catalog_dir,
            "--out",
            str(out),
            "--engine.base_url",
            api.url + "/v1",
            "--engine.api_key_env",
            "IVR_TEST_KEY",
            "--bootstrap",
            "0",
            "--probe.demo_counts",
            "[3]",
            "--data.setups",
            "[0]",
            "--data.limit_eval_people",
            "2",
            "--data.split_rule",
            "stratified",
            "--data.split_size",
            "6",
            "--data.min_valid",
            "0",
            "--limits.progress_every",
            "0",
        ]
        main(argv)
        assert {r["headers"].get("authorization") for r in api.sent()} == {f"Bearer {key}"}
        with pytest.raises(SystemExit):
            main(argv + ["--print_config"])
        # no key variable named for a custom endpoint: the provider key in OPENAI_API_KEY is not sent
        main([a for a in argv if a not in ("--engine.api_key_env", "IVR_TEST_KEY")] + ["--out", str(tmp_path / "p")])
        assert api.sent()[-1]["headers"].get("authorization") == "Bearer no-key"
    with FakeAPI(script=[401], echo_key_on_401=True) as bad, pytest.raises(IvrError) as exc:
        main(
            [
                *argv[: argv.index("--engine.base_url") + 1],
                bad.url + "/v1",
                *argv[argv.index("--engine.base_url") + 2 :],
                "--out",
                str(tmp_path / "q"),
            ]
        )
    assert "HTTP 401" in str(exc.value) and "***" in str(exc.value)
    shown = capfd.readouterr()
    for text in (shown.out, shown.err, str(exc.value)):
        assert key not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"results.json", "responses.jsonl", "config.yaml"} <= {p.name for p in files}
    assert "IVR_TEST_KEY" in (out / "config.yaml").read_text()  # the variable's name is kept, not its value
    for path in files:
        assert key.encode() not in path.read_bytes(), path


def test_key_errors_name_the_variable_not_the_value(catalog_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("IVR_UNSET_KEY", raising=False)
    with FakeAPI() as api:
        with pytest.raises(IvrError, match="IVR_UNSET_KEY is not set"):
            run(api, catalog_dir, tmp_path / "o", engine=BackendOptions(base_url=api.url, api_key_env="IVR_UNSET_KEY"))
        pasted = "sk-proj-" + secrets.token_hex(8) + "-x"
        with pytest.raises(IvrError, match="NAME of the environment variable") as exc:
            run(api, catalog_dir, tmp_path / "o", engine=BackendOptions(base_url=api.url, api_key_env=pasted))
        assert pasted not in str(exc.value)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(IvrError, match="OPENAI_API_KEY is not set"):  # the provider's endpoint needs a key
        zero_shot("gpt-4o-2024-08-06", tiny_data(catalog_dir), str(tmp_path / "x"), backend="openai", bootstrap=0)


def test_a_list_of_models_in_one_command(catalog_dir, tmp_path, capsys):
    out = tmp_path / "sweep"
    with FakeAPI(models=("m-openai", "m-claude")) as api:
        config = {
            "backend": "openai",
            "out": str(out),
            "bootstrap": 0,
            "published": True,
            "data": {
                "catalog": catalog_dir,
                "setups": [0],
                "limit_eval_people": 2,
                "split_rule": "stratified",
                "split_size": 6,
                "min_valid": 0,
            },
            "models": [
                {
                    "model": "m-openai",
                    "label": "GPT-4o (0806)",
                    "paper_row": "GPT-4o (0806)",
                    "base_url": api.url + "/v1",
                    "price_input": 2.5,
                    "price_output": 10.0,
                },
                {
                    "model": "m-claude",
                    "label": "Claude-3.5 (Sonnet)",
                    "paper_row": "Claude-3.5 (Sonnet)",
                    "backend": "anthropic",
                    "base_url": api.url,
                },
                {"model": "m-retired", "label": "retired", "base_url": api.url + "/v1", "max_model_len": 4096},
            ],
            "probe": {"demo_counts": [200], "max_new_tokens": 12},
        }
        (tmp_path / "c.yaml").write_text(json.dumps(config))
        with pytest.raises(IvrError) as exc:
            main(["--config", str(tmp_path / "c.yaml")])
    assert "retired: " in str(exc.value) and "HTTP 404" in str(exc.value)  # the failing model is named ...
    for sub in ("GPT-4o_0806", "Claude-3.5_Sonnet"):  # ... and the others still ran
        assert (out / sub / "results.json").is_file() and (out / sub / "responses.jsonl").is_file()
    combined = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in combined] == ["GPT-4o (0806)", "Claude-3.5 (Sonnet)"]
    t14, t2 = (out / "table14.md").read_text(), (out / "table2.md").read_text()
    assert "| 65.21 | 64.77 | 60.39 | 63.46 |" in t14 and "| 65.74 | 66.48 | 61.76 | 64.66 |" in t14
    assert "| 3.03 |" in t2 and "| 3.14 |" in t2 and (out / "figure2.png").is_file()


def test_api_config_parses():
    cfg = build_parser().parse_args(["--config", str(ROOT / "configs" / "zero_shot_api.yaml")])
    labels = [m.label for m in cfg.models]
    assert labels == [
        "GPT-4o (0806)",
        "GPT-4o (0513)",
        "GPT-4o-mini (0718)",
        "GPT-4-turbo (0409)",
        "Claude-3.5 (Sonnet)",
    ]
    from ivr.paper import paper_table

    assert {m.paper_row for m in cfg.models} <= set(paper_table("table14_zero_shot_polar"))
    assert {m.backend or cfg.backend for m in cfg.models} == {"openai", "anthropic"}
    assert "key" not in json.dumps({k: v for k, v in vars(cfg.engine).items() if k != "api_key_env"})
    RequestLimits(**dict(cfg.limits)).validate()
