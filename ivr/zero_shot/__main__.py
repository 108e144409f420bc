"""``python -m ivr.zero_shot --config configs/zero_shot.yaml --model PATH_OR_ID [--backend hf|vllm|openai|anthropic] [--scoring generate|logits]``.

Reads the catalog, picks the evaluation people and probe setups, builds one JSON probe prompt per
(person, setup, probe form, demonstration count), asks the model for every prompt not yet in the
response cache, parses the replies by group key and writes ``results.json``, ``table14.md`` and
``figure2.png`` to ``--out``. Re-running the same command after an interruption resumes: cached
prompts are never sent again. ``--backend openai|anthropic`` probes a model behind an HTTP API
(:mod:`ivr.zero_shot.remote`); ``--models`` (configs/zero_shot_api.yaml) runs a list of them in one
command (:mod:`ivr.zero_shot.sweep`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from jsonargparse import ActionConfigFile, ArgumentParser

from ivr.catalog.store import Catalog, load_catalog
from ivr.data.probes import probe_setups
from ivr.data.splits import make_split
from ivr.errors import IvrError
from ivr.zero_shot.api import API_BACKENDS
from ivr.zero_shot.backends import (
    BackendNotInstalledError,
    BackendOptions,
    ModelNotFoundError,
    check_model,
    encode_prompt,
    make_generator,
)
from ivr.zero_shot.cache import ResponseCache
from ivr.zero_shot.limits import RequestLimits
from ivr.zero_shot.report import load_published, plot_figure2, summarize_condition, table14
from ivr.zero_shot.run import Job, ProbeSettings, build_jobs, collect, query
from ivr.zero_shot.sweep import ModelEntry, run_models

Respond = Callable[[list[Job]], list[str]]


def _load(catalog: str, cache_dir: str | None) -> Catalog:
    if Path(catalog).is_dir():
        return load_catalog(catalog)
    from ivr.catalog.resolve import resolve_catalog

    return load_catalog(resolve_catalog(catalog, cache_dir))


def _engine(backend: str, scoring: str, model: str, engine: BackendOptions, max_new_tokens: int) -> tuple[Any, Respond]:
    """The loaded backend (for its tokenizer and context) and its jobs -> replies function."""
    if scoring == "logits":
        if backend != "hf":
            raise ValueError("--scoring logits reads the model's logits through transformers (--backend hf) "
                             "or a server's logprobs (--backend openai); vLLM offline does not score options")
        from ivr.zero_shot.scoring import LogitScorer

        scorer = LogitScorer(model, engine)
        return scorer, lambda jobs: [json.dumps(scorer.score(j.ids, j.n_options)) for j in jobs]
    gen = make_generator(backend, model, engine)
    return gen, lambda jobs: gen.generate([j.ids for j in jobs], max_new_tokens)


def zero_shot(
    model: str, catalog: str, out: str, backend: Literal["hf", "vllm", "openai", "anthropic"] = "hf",
    scoring: Literal["generate", "logits"] = "generate", probe: ProbeSettings | None = None,
    engine: BackendOptions | None = None, cache: str | None = None, model_label: str | None = None,
    published: bool | str | None = None, bootstrap: int = 200, cache_dir: str | None = None,
    respond_hook: Callable[[Respond], Respond] | None = None, limits: RequestLimits | None = None,
) -> list[dict[str, Any]]:
    """Probe a model zero-shot and write its report.

    Args:
        model: model folder or hub id (openai / anthropic: the name the server knows).
        catalog: catalog folder or ``synthetic:people=N,seed=S``.
        out: output folder (results.json, table14.md, figure2.png; responses.jsonl by default).
        backend: ``hf`` (transformers generate), ``vllm`` (offline LLM.generate), ``openai`` (any
            OpenAI-compatible chat completions server) or ``anthropic`` (messages API).
        scoring: ``generate`` (JSON reply, parsed) or ``logits`` (option scores; hf, or openai on a
            server that returns logprobs).
        probe: prompt and protocol settings.
        engine: backend settings.
        cache: response cache file (default ``out/responses.jsonl``).
        model_label: name in tables and the cache key (default: the model argument).
        published: print the paper's rows beside ours: True = the packaged copy, or a results.json path.
        bootstrap: bootstrap replicates for the confidence intervals.
        cache_dir: where synthetic catalogs are built.
        respond_hook: wraps the backend's jobs -> replies function (instrumentation, tests; not
            for the HTTP backends).
        limits: openai / anthropic: concurrency, retries, timeouts, rate caps.

    Returns:
        One result record per (demonstration count) condition.
    """
    probe = probe or ProbeSettings()
    engine = engine or BackendOptions()
    probe.validate()
    served = None
    if backend in API_BACKENDS:  # key, client package, context length: fail before building anything
        from ivr.zero_shot.remote import ServedModel

        served = ServedModel(backend, model, engine, limits or RequestLimits())
    else:
        model = check_model(model)  # fail on a mistyped path before building anything
    paper = load_published(None if published is True else published) if published else None
    cat = _load(catalog, cache_dir)
    all_setups = probe_setups(cat.codebook)
    wanted = probe.setups if probe.setups is not None else list(range(len(all_setups)))
    if any(s < 0 or s >= len(all_setups) for s in wanted):
        raise ValueError(f"--probe.setups={wanted}: the codebook has setups 0..{len(all_setups) - 1}")
    split = make_split(cat, probe.split_size, probe.split_seed, probe.split_rule, probe.split_ids_file, all_setups,
                       probe.split_min_valid)
    rows = {"test": split.test_rows, "val": split.val_rows, "eval": split.eval_rows}[probe.people]
    rows = rows[: probe.limit_people] if probe.limit_people else rows

    out_dir = Path(out)
    store = ResponseCache(cache or out_dir / "responses.jsonl")
    model_key = f"{model_label or model}|{scoring}"
    settings = {"scoring": scoring, "max_new_tokens": probe.max_new_tokens, "temperature": 0.0, "top_p": 1.0}
    setups = {s: all_setups[s] for s in wanted}
    if served is not None:
        jobs = build_jobs(cat, rows, setups, probe, served.encode, served.budget(scoring, probe.max_new_tokens))
        sent = served.query(jobs, store, model_key, scoring, probe.max_new_tokens)
    else:
        jobs, sent = _run_local(backend, scoring, model, engine, probe, cat, rows, setups, store, model_key, settings,
                                respond_hook)
    return _report(jobs, cat, store, model_key, scoring, probe, served, sent, bootstrap, paper, out_dir,
                   {"model": model_label or model, "backend": backend, "scoring": scoring})


def _run_local(backend: str, scoring: str, model: str, engine: BackendOptions, probe: ProbeSettings, cat: Catalog,
               rows: Any, setups: dict[int, Any], store: ResponseCache, model_key: str, settings: dict[str, Any],
               respond_hook: Callable[[Respond], Respond] | None) -> tuple[list[Job], int]:
    """Build the prompts with an in-process backend's tokenizer and ask it for the missing ones."""
    backend_obj, respond = _engine(backend, scoring, model, engine, probe.max_new_tokens)
    try:
        # logits scoring appends a short answer opening instead of a generated reply
        budget = backend_obj.context_length - (probe.max_new_tokens if scoring == "generate" else 64)
        jobs = build_jobs(cat, rows, setups, probe, lambda text: encode_prompt(backend_obj.tokenizer, text), budget)
        sent = query(jobs, respond_hook(respond) if respond_hook else respond, store, model_key, settings, probe.chunk_size)
    finally:
        if hasattr(backend_obj, "close"):
            backend_obj.close()
    return jobs, sent


def _report(jobs: list[Job], cat: Catalog, store: ResponseCache, model_key: str, scoring: str, probe: ProbeSettings,
            served: Any, sent: int, bootstrap: int, paper: dict[str, list[float]] | None, out_dir: Path,
            meta0: dict[str, Any]) -> list[dict[str, Any]]:
    """Score every condition from the cache and write results.json, table14.md and figure2.png."""
    results = []
    for d in probe.counts():
        part = [j for j in jobs if j.demos == d]
        preds, counts = collect(part, cat, store, model_key, scoring)
        counts["demos_dropped"] = sum(j.dropped for j in part)
        counts["prompts_truncated"] = sum(j.dropped > 0 for j in part)
        meta = {**meta0, "demos": d, "demo_form": probe.demo_form, "demographics": probe.demographics, "queried": sent}
        if served is not None:
            from ivr.zero_shot.remote import usage_summary

            meta.update(served.describe(), usage=usage_summary(part, store, model_key, served.prices))
        results.append(summarize_condition(preds, cat, counts, meta, bootstrap, probe.seed))

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    tmp.replace(out_dir / "results.json")
    text = table14(results, paper)
    (out_dir / "table14.md").write_text(text)
    plot_figure2(results, out_dir / "figure2.png", paper)
    print(text)
    return results


def build_parser() -> ArgumentParser:
    """The command line (every flag also settable in the YAML config)."""
    parser = ArgumentParser(
        prog="python -m ivr.zero_shot",
        description="Zero-shot probing of a language model: JSON probe prompts, parsed by group key, resumable.",
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML config (configs/zero_shot.yaml)")
    parser.add_argument("--model", type=str | None, default=None,
                        help="model folder or hub id (openai / anthropic: the model name); or give models:")
    parser.add_argument("--models", type=list[ModelEntry] | None, default=None,
                        help="several models run one after the other, reported side by side (configs/zero_shot_api.yaml)")
    parser.add_argument("--catalog", type=str, default="synthetic:people=2000,seed=0", help="catalog folder or synthetic spec")
    parser.add_argument("--out", type=str, default="runs/zero_shot", help="output folder")
    parser.add_argument("--backend", type=Literal["hf", "vllm", "openai", "anthropic"], default="hf",
                        help="hf / vllm (in-process), openai (any OpenAI-compatible server) or anthropic (messages API)")
    parser.add_argument("--scoring", type=Literal["generate", "logits"], default="generate",
                        help="generate a JSON reply, or score the options from the logits (hf) / logprobs (openai)")
    parser.add_argument("--cache", type=str | None, default=None, help="response cache (default OUT/responses.jsonl)")
    parser.add_argument("--model_label", type=str | None, default=None, help="model name in tables and cache keys")
    parser.add_argument("--published", type=bool | str | None, nargs="?", const=True, default=None,
                        help="print the paper's rows beside ours: bare = the packaged copy, or a results.json path")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates for 95%% intervals")
    parser.add_argument("--cache_dir", type=str | None, default=None, help="where synthetic catalogs are built")
    parser.add_class_arguments(ProbeSettings, "probe")
    parser.add_class_arguments(BackendOptions, "engine")
    parser.add_class_arguments(RequestLimits, "limits")
    return parser


def _save_config(parser: ArgumentParser, cfg: Any, out: str) -> None:
    """OUT/config.yaml: the settings of this run (holds the key's variable name, never a key)."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = parser.dump(cfg)
    tmp = out_dir / ".config.yaml.tmp"
    tmp.write_text(text)
    tmp.replace(out_dir / "config.yaml")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    cfg = parser.parse_args(argv)
    probe = ProbeSettings(**dict(cfg.probe))
    engine = BackendOptions(**dict(cfg.engine))
    limits = RequestLimits(**dict(cfg.limits))
    try:
        if not cfg.model and not cfg.models:
            raise IvrError("--model: give a model (folder, hub id or served name), or a models: list in the config "
                           "(configs/zero_shot_api.yaml)")
        _save_config(parser, cfg, cfg.out)
        if cfg.models:
            entries = [m if isinstance(m, ModelEntry) else ModelEntry(**dict(m)) for m in cfg.models]
            if cfg.model or cfg.cache or cfg.model_label:
                raise IvrError("--model / --cache / --model_label: not with a models: list (each model gets "
                               "OUT/<label>/ with its own cache); drop them or the list")
            run_models(entries, zero_shot, cfg.out, cfg.backend, cfg.published, catalog=cfg.catalog,
                       scoring=cfg.scoring, probe=probe, engine=engine, bootstrap=cfg.bootstrap,
                       cache_dir=cfg.cache_dir, limits=limits)
        else:
            zero_shot(cfg.model, cfg.catalog, cfg.out, cfg.backend, cfg.scoring, probe, engine, cfg.cache,
                      cfg.model_label, cfg.published, cfg.bootstrap, cfg.cache_dir, limits=limits)
    except (IvrError, ModelNotFoundError, BackendNotInstalledError, FileNotFoundError, ValueError) as err:
        # user-fixable problems: the message says what to change; no traceback
        raise SystemExit(f"python -m ivr.zero_shot: error: {err}") from err


if __name__ == "__main__":  # vLLM spawns workers that re-import the main module
    main(sys.argv[1:])
