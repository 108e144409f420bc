"""``python -m ivr.zero_shot --config configs/zero_shot.yaml --model PATH_OR_ID [--backend hf|vllm|openai|anthropic]``.

Reads the catalog, picks the evaluation people and probe setups (the shared ``--data.*`` section),
builds one JSON probe prompt per (person, setup, probe form, demonstration count), asks the model
for every prompt not yet in the response cache, parses the replies by group key and writes
``results.json``, ``table14.md``, ``figure2.png`` and ``config.yaml`` to ``--out``. Re-running the
same command after an interruption resumes: cached prompts are never sent again.
``--backend openai|anthropic`` probes a model behind an HTTP API (:mod:`ivr.zero_shot.remote`);
``--models`` (configs/zero_shot_api.yaml) runs a list of them in one command (:mod:`ivr.zero_shot.sweep`).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ivr.catalog.store import Catalog
from ivr.cli import (
    COMMON_ALIASES,
    Alias,
    add_output_arguments,
    add_report_arguments,
    apply_aliases,
    deprecation,
    entry_point,
    make_parser,
    migrate_config,
    run,
)
from ivr.errors import ConfigError
from ivr.locks import RunLock
from ivr.settings import DataSettings
from ivr.zero_shot.api import API_BACKENDS
from ivr.zero_shot.backends import BackendOptions, check_model, encode_prompt, make_generator
from ivr.zero_shot.cache import ResponseCache
from ivr.zero_shot.limits import RequestLimits
from ivr.zero_shot.report import load_published, plot_figure2, summarize_condition, table14
from ivr.zero_shot.run import Job, ProbeSettings, build_jobs, collect, query
from ivr.zero_shot.sweep import ModelEntry, run_models

PROG = "python -m ivr.zero_shot"
DEFAULT_OUT = "runs/zero_shot"
Respond = Callable[[list[Job]], list[str]]

#: Flags of the previous release, accepted with a deprecation note.
ALIASES = (
    *COMMON_ALIASES,
    Alias("--catalog", "--data.catalog"),
    Alias("--cache_dir", "--data.cache_dir"),
    Alias("--probe.split_rule", "--data.split_rule"),
    Alias("--probe.split_size", "--data.split_size"),
    Alias("--probe.split_seed", "--data.seed"),
    Alias("--probe.seed", "--data.seed"),
    Alias("--probe.split_ids_file", "--data.split_ids_file"),
    Alias("--probe.split_min_valid", "--data.min_valid"),
    Alias("--probe.setups", "--data.setups"),
    Alias("--probe.limit_people", "--data.limit_eval_people"),
)
#: The same renames for keys of a YAML config.
CONFIG_RENAMES = {
    "catalog": "data.catalog",
    "cache_dir": "data.cache_dir",
    "probe.split_rule": "data.split_rule",
    "probe.split_size": "data.split_size",
    "probe.split_seed": "data.seed",
    "probe.seed": "data.seed",
    "probe.split_ids_file": "data.split_ids_file",
    "probe.split_min_valid": "data.min_valid",
    "probe.setups": "data.setups",
    "probe.limit_people": "data.limit_eval_people",
}


def _engine(backend: str, scoring: str, model: str, engine: BackendOptions, max_new_tokens: int) -> tuple[Any, Respond]:
    """The loaded backend (for its tokenizer and context) and its jobs -> replies function."""
    if scoring == "logits":
        if backend != "hf":
            raise ConfigError(
                "--scoring logits reads the model's logits through transformers (--backend hf) "
                "or a server's logprobs (--backend openai); vLLM offline does not score options"
            )
        from ivr.zero_shot.scoring import LogitScorer

        scorer = LogitScorer(model, engine)
        return scorer, lambda jobs: [json.dumps(scorer.score(j.ids, j.n_options)) for j in jobs]
    gen = make_generator(backend, model, engine)
    return gen, lambda jobs: gen.generate([j.ids for j in jobs], max_new_tokens)


def zero_shot(
    model: str,
    data: DataSettings | str,
    out: str,
    backend: Literal["hf", "vllm", "openai", "anthropic"] = "hf",
    scoring: Literal["generate", "logits"] = "generate",
    probe: ProbeSettings | None = None,
    engine: BackendOptions | None = None,
    cache: str | None = None,
    model_label: str | None = None,
    published: bool = False,
    bootstrap: int = 200,
    paper: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    respond_hook: Callable[[Respond], Respond] | None = None,
    limits: RequestLimits | None = None,
    config_text: str | None = None,
    lock: bool = True,
) -> list[dict[str, Any]]:
    """Probe a model zero-shot and write its report.

    Args:
        model: model folder or hub id (openai / anthropic: the name the server knows).
        data: who is probed (:class:`ivr.settings.DataSettings`), or just a catalog folder / spec.
        out: output folder (results.json, table14.md, figure2.png; responses.jsonl by default): new,
            or an earlier zero-shot output (which is resumed).
        backend: ``hf`` (transformers generate), ``vllm`` (offline LLM.generate), ``openai`` (any
            OpenAI-compatible chat completions server) or ``anthropic`` (messages API).
        scoring: ``generate`` (JSON reply, parsed) or ``logits`` (option scores; hf, or openai on a
            server that returns logprobs).
        probe: prompt settings.
        engine: backend settings.
        cache: response cache file (default ``out/responses.jsonl``).
        model_label: name in tables and the cache key (default: the model argument).
        published: print the paper's rows beside ours.
        bootstrap: bootstrap replicates for the confidence intervals.
        paper: the paper's results.json (default: the packaged copy).
        overwrite: allow ``out`` to replace an ivr output of another kind.
        progress: progress bars / lines.
        respond_hook: wraps the backend's jobs -> replies function (instrumentation, tests; not for
            the HTTP backends).
        limits: openai / anthropic: concurrency, retries, timeouts, rate caps.
        config_text: the run's resolved settings, written to ``out/config.yaml`` (never holds a key).
        lock: hold the run lock of ``out`` while running, so a second run into it stops with an error
            naming the first (False: the caller holds the lock of a folder above, as a models: list does).

    Returns:
        One result record per (demonstration count) condition.
    """
    from ivr.outputs import check_output, claim_output

    data = DataSettings(catalog=data) if isinstance(data, str) else DataSettings.from_value(data)
    probe = probe or ProbeSettings()
    engine = engine or BackendOptions()
    probe.validate()
    check_output(out, "zero_shot", overwrite)  # a wrong --out fails before anything is loaded
    cache_path = Path(cache) if cache else Path(out) / "responses.jsonl"
    ResponseCache(cache_path, flag="--cache" if cache else "--out")  # so does a --cache that is not one
    served = None
    if backend in API_BACKENDS:  # key, client package, context length: fail before building anything
        from ivr.zero_shot.remote import ServedModel

        served = ServedModel(backend, model, engine, limits or RequestLimits())
    else:
        model = check_model(model)  # and a mistyped model path
    table_rows = load_published(paper) if published else None
    cat = data.open_catalog()
    if probe.demo_counts is None:  # the protocol's evaluation count ("all" = every valid answer)
        import dataclasses

        count = data.protocol(cat).demos("eval_demo_count", cat.codebook)
        if not count.isdigit():
            raise ConfigError(
                f"--data.eval_demo_count={count}: zero-shot prompts need fixed demonstration counts; "
                "set --probe.demo_counts (e.g. [50, 200])"
            )
        probe = dataclasses.replace(probe, demo_counts=[int(count)])
    setups = data.chosen_setups(cat)
    split = data.split(cat)  # eligibility as for every command: the probes of all setups answered
    rows = {"test": split.test_rows, "val": split.val_rows, "eval": split.eval_rows}[probe.people]
    rows = rows[: data.limit_eval_people] if data.limit_eval_people else rows

    out_dir = claim_output(out, "zero_shot", overwrite)
    # one run at a time per folder: a second one would send every prompt again (and pay for it twice)
    with (
        RunLock(out_dir, flag="--out", info={"kind": "zero_shot", "model": model_label or model})
        if lock
        else contextlib.nullcontext()
    ):
        if config_text is not None:
            from ivr.outputs import write_text

            write_text(out_dir / "config.yaml", config_text)
        store = ResponseCache(
            cache_path,
            flag="--cache" if cache else "--out",
            scrub=served.scrub.json_line if served is not None else None,
        )
        model_key = f"{model_label or model}|{scoring}"
        settings = {"scoring": scoring, "max_new_tokens": probe.max_new_tokens, "temperature": 0.0, "top_p": 1.0}
        if served is not None:
            jobs = build_jobs(
                cat,
                rows,
                setups,
                probe,
                served.encode,
                served.budget(scoring, probe.max_new_tokens),
                seed=data.seed,
                progress=progress,
            )
            sent = served.query(jobs, store, model_key, scoring, probe.max_new_tokens)
        else:
            jobs, sent = _run_local(
                backend,
                scoring,
                model,
                engine,
                probe,
                cat,
                rows,
                setups,
                store,
                model_key,
                settings,
                respond_hook,
                data.seed,
                progress,
            )
        return _report(
            jobs,
            cat,
            store,
            model_key,
            scoring,
            probe,
            served,
            sent,
            bootstrap,
            table_rows,
            out_dir,
            {"model": model_label or model, "backend": backend, "scoring": scoring},
            data.seed,
        )


def _run_local(
    backend: str,
    scoring: str,
    model: str,
    engine: BackendOptions,
    probe: ProbeSettings,
    cat: Catalog,
    rows: Any,
    setups: dict[int, Any],
    store: ResponseCache,
    model_key: str,
    settings: dict[str, Any],
    respond_hook: Callable[[Respond], Respond] | None,
    seed: int,
    progress: bool,
) -> tuple[list[Job], int]:
    """Build the prompts with an in-process backend's tokenizer and ask it for the missing ones."""
    backend_obj, respond = _engine(backend, scoring, model, engine, probe.max_new_tokens)
    try:
        # logits scoring appends a short answer opening instead of a generated reply
        budget = backend_obj.context_length - (probe.max_new_tokens if scoring == "generate" else 64)
        jobs = build_jobs(
            cat,
            rows,
            setups,
            probe,
            lambda text: encode_prompt(backend_obj.tokenizer, text),
            budget,
            seed=seed,
            progress=progress,
        )
        sent = query(
            jobs,
            respond_hook(respond) if respond_hook else respond,
            store,
            model_key,
            settings,
            probe.chunk_size,
            progress=progress,
        )
    finally:
        if hasattr(backend_obj, "close"):
            backend_obj.close()
    return jobs, sent


def _report(
    jobs: list[Job],
    cat: Catalog,
    store: ResponseCache,
    model_key: str,
    scoring: str,
    probe: ProbeSettings,
    served: Any,
    sent: int,
    bootstrap: int,
    table_rows: Any,
    out_dir: Path,
    meta0: dict[str, Any],
    seed: int,
) -> list[dict[str, Any]]:
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
        results.append(summarize_condition(preds, cat, counts, meta, bootstrap, seed))
    if served is not None:  # nothing a server sent reaches a file with the key in it
        results = served.scrub(results)

    from ivr.outputs import write_json, write_text

    write_json(out_dir / "results.json", results)
    text = table14(results, table_rows)
    write_text(out_dir / "table14.md", text)
    plot_figure2(results, out_dir / "figure2.png", table_rows)
    print(text)
    return results


def build_parser() -> Any:
    """The command line (every flag also settable in the YAML config)."""
    parser = make_parser(
        PROG, "Zero-shot probing of a language model: JSON probe prompts, parsed by group key, resumable."
    )
    parser.add_argument(
        "--model",
        type=str | None,
        default=None,
        help="model folder or hub id (openai / anthropic: the model name); or give models:",
    )
    parser.add_argument(
        "--models",
        type=list[ModelEntry] | None,
        default=None,
        help="several models run one after the other, reported side by side (configs/zero_shot_api.yaml)",
    )
    parser.add_class_arguments(DataSettings, "data", help="the catalog and who is probed (same keys everywhere)")
    parser.add_argument(
        "--backend",
        type=Literal["hf", "vllm", "openai", "anthropic"],
        default="hf",
        help="hf / vllm (in-process), openai (any OpenAI-compatible server) or anthropic (messages API)",
    )
    parser.add_argument(
        "--scoring",
        type=Literal["generate", "logits"],
        default="generate",
        help="generate a JSON reply, or score the options from the logits (hf) / logprobs (openai)",
    )
    parser.add_argument("--cache", type=str | None, default=None, help="response cache (default OUT/responses.jsonl)")
    parser.add_argument("--model_label", type=str | None, default=None, help="model name in tables and cache keys")
    add_report_arguments(parser, bootstrap=200)
    add_output_arguments(parser, DEFAULT_OUT)
    parser.add_class_arguments(ProbeSettings, "probe")
    parser.add_class_arguments(BackendOptions, "engine")
    parser.add_class_arguments(RequestLimits, "limits")
    return parser


def _published_path(argv: list[str]) -> list[str]:
    """``--published PATH`` (old) -> ``--published true --paper PATH``."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        nxt = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
        if name == "--published" and nxt and not nxt.startswith("--") and nxt.lower() not in ("true", "false"):
            deprecation(PROG, "--published PATH", "--published --paper PATH")
            out += ["--published", "true", "--paper", nxt]
            i += 1 if eq else 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Parse and run; expected failures raise :class:`ivr.errors.IvrError`."""
    argv = _published_path(apply_aliases(list(sys.argv[1:] if argv is None else argv), ALIASES, PROG))
    argv = migrate_config(argv, CONFIG_RENAMES, PROG)
    parser = build_parser()
    cfg = parser.parse_args(argv)
    probe = ProbeSettings(**dict(cfg.probe))
    engine = BackendOptions(**dict(cfg.engine))
    limits = RequestLimits(**dict(cfg.limits))
    data = DataSettings.from_value(cfg.data)
    config_text = parser.dump(cfg)  # holds the key's variable name, never a key
    if not cfg.model and not cfg.models:
        raise ConfigError(
            "--model: give a model (folder, hub id or served name), or a models: list in the config "
            "(configs/zero_shot_api.yaml)"
        )
    if cfg.models:
        entries = [m if isinstance(m, ModelEntry) else ModelEntry(**dict(m)) for m in cfg.models]
        if cfg.model or cfg.cache or cfg.model_label:
            raise ConfigError(
                "--model / --cache / --model_label: not with a models: list (each model gets "
                "OUT/<label>/ with its own cache); drop them or the list"
            )
        return run_models(
            entries,
            zero_shot,
            cfg.out,
            cfg.backend,
            cfg.published,
            cfg.paper,
            overwrite=cfg.overwrite,
            config_text=config_text,
            data=data,
            scoring=cfg.scoring,
            probe=probe,
            engine=engine,
            bootstrap=cfg.bootstrap,
            progress=cfg.progress,
            limits=limits,
        )
    return zero_shot(
        cfg.model,
        data,
        cfg.out,
        cfg.backend,
        cfg.scoring,
        probe,
        engine,
        cfg.cache,
        cfg.model_label,
        cfg.published,
        cfg.bootstrap,
        cfg.paper,
        cfg.overwrite,
        cfg.progress,
        limits=limits,
        config_text=config_text,
    )


def interruptible(argv: list[str] | None = None) -> Any:
    """``main``, with Ctrl-C as one line on stderr and exit status 130 (what was answered stays cached)."""
    try:
        return main(argv)
    except KeyboardInterrupt as err:
        print(
            f"interrupted: {err or 'replies received so far are in the response cache; the same command resumes'}",
            file=sys.stderr,
        )
        return 130


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract (exit status 2 and one ``error:`` line on bad input; 130 on Ctrl-C)."""
    return run(interruptible, argv)


if __name__ == "__main__":  # vLLM spawns workers that re-import the main module
    entry_point(interruptible)
