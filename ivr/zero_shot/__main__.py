"""``python -m ivr.zero_shot --config configs/zero_shot.yaml --model PATH_OR_ID [--backend vllm|hf] [--scoring generate|logits]``.

Reads the catalog, picks the evaluation people and probe setups, builds one JSON probe prompt per
(person, setup, probe form, demonstration count), asks the model for every prompt not yet in the
response cache, parses the replies by group key and writes ``results.json``, ``table14.md`` and
``figure2.png`` to ``--out``. Re-running the same command after an interruption resumes: cached
prompts are never sent again.
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
from ivr.zero_shot.backends import (
    BackendNotInstalledError,
    BackendOptions,
    ModelNotFoundError,
    check_model,
    encode_prompt,
    make_generator,
)
from ivr.zero_shot.cache import ResponseCache
from ivr.zero_shot.report import load_published, plot_figure2, summarize_condition, table14
from ivr.zero_shot.run import Job, ProbeSettings, build_jobs, collect, query

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
            raise ValueError("--scoring logits reads the model's logits through transformers; use --backend hf")
        from ivr.zero_shot.scoring import LogitScorer

        scorer = LogitScorer(model, engine)
        return scorer, lambda jobs: [json.dumps(scorer.score(j.ids, j.n_options)) for j in jobs]
    gen = make_generator(backend, model, engine)
    return gen, lambda jobs: gen.generate([j.ids for j in jobs], max_new_tokens)


def zero_shot(
    model: str, catalog: str, out: str, backend: Literal["hf", "vllm"] = "hf",
    scoring: Literal["generate", "logits"] = "generate", probe: ProbeSettings | None = None,
    engine: BackendOptions | None = None, cache: str | None = None, model_label: str | None = None,
    published: bool | str | None = None, bootstrap: int = 200, cache_dir: str | None = None,
    respond_hook: Callable[[Respond], Respond] | None = None,
) -> list[dict[str, Any]]:
    """Probe a model zero-shot and write its report.

    Args:
        model: model folder or hub id.
        catalog: catalog folder or ``synthetic:people=N,seed=S``.
        out: output folder (results.json, table14.md, figure2.png; responses.jsonl by default).
        backend: ``hf`` (transformers generate) or ``vllm`` (offline LLM.generate).
        scoring: ``generate`` (JSON reply, parsed) or ``logits`` (option scores; hf only).
        probe: prompt and protocol settings.
        engine: backend settings.
        cache: response cache file (default ``out/responses.jsonl``).
        model_label: name in tables and the cache key (default: the model argument).
        published: print the paper's rows beside ours: True = the packaged copy, or a results.json path.
        bootstrap: bootstrap replicates for the confidence intervals.
        cache_dir: where synthetic catalogs are built.
        respond_hook: wraps the backend's jobs -> replies function (instrumentation, tests).

    Returns:
        One result record per (demonstration count) condition.
    """
    probe = probe or ProbeSettings()
    engine = engine or BackendOptions()
    probe.validate()
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
    backend_obj, respond = _engine(backend, scoring, model, engine, probe.max_new_tokens)
    try:
        # logits scoring appends a short answer opening instead of a generated reply
        budget = backend_obj.context_length - (probe.max_new_tokens if scoring == "generate" else 64)
        jobs = build_jobs(cat, rows, {s: all_setups[s] for s in wanted}, probe,
                          lambda text: encode_prompt(backend_obj.tokenizer, text), budget)
        sent = query(jobs, respond_hook(respond) if respond_hook else respond, store, model_key, settings, probe.chunk_size)
    finally:
        if hasattr(backend_obj, "close"):
            backend_obj.close()

    results = []
    for d in probe.counts():
        part = [j for j in jobs if j.demos == d]
        preds, counts = collect(part, cat, store, model_key, scoring)
        counts["demos_dropped"] = sum(j.dropped for j in part)
        counts["prompts_truncated"] = sum(j.dropped > 0 for j in part)
        meta = {"model": model_label or model, "backend": backend, "scoring": scoring, "demos": d,
                "demo_form": probe.demo_form, "demographics": probe.demographics, "queried": sent}
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
    parser.add_argument("--model", type=str, required=True, help="model folder or hub id")
    parser.add_argument("--catalog", type=str, default="synthetic:people=2000,seed=0", help="catalog folder or synthetic spec")
    parser.add_argument("--out", type=str, default="runs/zero_shot", help="output folder")
    parser.add_argument("--backend", type=Literal["hf", "vllm"], default="hf", help="generation backend")
    parser.add_argument("--scoring", type=Literal["generate", "logits"], default="generate",
                        help="generate a JSON reply, or score the options from the logits (hf only)")
    parser.add_argument("--cache", type=str | None, default=None, help="response cache (default OUT/responses.jsonl)")
    parser.add_argument("--model_label", type=str | None, default=None, help="model name in tables and cache keys")
    parser.add_argument("--published", type=bool | str | None, nargs="?", const=True, default=None,
                        help="print the paper's rows beside ours: bare = the packaged copy, or a results.json path")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates for 95%% intervals")
    parser.add_argument("--cache_dir", type=str | None, default=None, help="where synthetic catalogs are built")
    parser.add_class_arguments(ProbeSettings, "probe")
    parser.add_class_arguments(BackendOptions, "engine")
    return parser


def main(argv: list[str] | None = None) -> None:
    cfg = build_parser().parse_args(argv)
    probe = ProbeSettings(**dict(cfg.probe))
    engine = BackendOptions(**dict(cfg.engine))
    try:
        zero_shot(cfg.model, cfg.catalog, cfg.out, cfg.backend, cfg.scoring, probe, engine, cfg.cache,
                  cfg.model_label, cfg.published, cfg.bootstrap, cfg.cache_dir)
    except (ModelNotFoundError, BackendNotInstalledError, FileNotFoundError, ValueError) as err:
        # user-fixable problems: the message says what to change; no traceback
        raise SystemExit(f"python -m ivr.zero_shot: error: {err}") from err


if __name__ == "__main__":  # vLLM spawns workers that re-import the main module
    main(sys.argv[1:])
