"""``python -m ivr.zero_shot --config configs/zero_shot.yaml --model PATH_OR_ID [--backend vllm|hf] [--scoring generate|logits]``.

Reads the catalog, picks the evaluation people and probe setups (the shared ``--data.*`` section),
builds one JSON probe prompt per (person, setup, probe form, demonstration count), asks the model
for every prompt not yet in the response cache, parses the replies by group key and writes
``results.json``, ``table14.md`` and ``figure2.png`` to ``--out``. Re-running the same command after
an interruption resumes: cached prompts are never sent again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ivr.cli import (
    COMMON_ALIASES, Alias, add_output_arguments, add_report_arguments, apply_aliases, deprecation, entry_point,
    make_parser, migrate_config, run,
)
from ivr.errors import ConfigError
from ivr.settings import DataSettings
from ivr.zero_shot.backends import BackendOptions, check_model, encode_prompt, make_generator
from ivr.zero_shot.cache import ResponseCache
from ivr.zero_shot.report import load_published, plot_figure2, summarize_condition, table14
from ivr.zero_shot.run import Job, ProbeSettings, build_jobs, collect, query

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
    "catalog": "data.catalog", "cache_dir": "data.cache_dir", "probe.split_rule": "data.split_rule",
    "probe.split_size": "data.split_size", "probe.split_seed": "data.seed", "probe.seed": "data.seed",
    "probe.split_ids_file": "data.split_ids_file", "probe.split_min_valid": "data.min_valid",
    "probe.setups": "data.setups", "probe.limit_people": "data.limit_eval_people",
}


def _engine(backend: str, scoring: str, model: str, engine: BackendOptions, max_new_tokens: int) -> tuple[Any, Respond]:
    """The loaded backend (for its tokenizer and context) and its jobs -> replies function."""
    if scoring == "logits":
        if backend != "hf":
            raise ConfigError("--scoring logits reads the model's logits through transformers; use --backend hf")
        from ivr.zero_shot.scoring import LogitScorer

        scorer = LogitScorer(model, engine)
        return scorer, lambda jobs: [json.dumps(scorer.score(j.ids, j.n_options)) for j in jobs]
    gen = make_generator(backend, model, engine)
    return gen, lambda jobs: gen.generate([j.ids for j in jobs], max_new_tokens)


def zero_shot(
    model: str, data: DataSettings | str, out: str, backend: Literal["hf", "vllm"] = "hf",
    scoring: Literal["generate", "logits"] = "generate", probe: ProbeSettings | None = None,
    engine: BackendOptions | None = None, cache: str | None = None, model_label: str | None = None,
    published: bool = False, bootstrap: int = 200, paper: str | None = None, overwrite: bool = False,
    progress: bool = True, respond_hook: Callable[[Respond], Respond] | None = None,
) -> list[dict[str, Any]]:
    """Probe a model zero-shot and write its report.

    Args:
        model: model folder or hub id.
        data: who is probed (:class:`ivr.settings.DataSettings`), or just a catalog folder / spec.
        out: output folder (results.json, table14.md, figure2.png; responses.jsonl by default): new,
            or an earlier zero-shot output (which is resumed).
        backend: ``hf`` (transformers generate) or ``vllm`` (offline LLM.generate).
        scoring: ``generate`` (JSON reply, parsed) or ``logits`` (option scores; hf only).
        probe: prompt settings.
        engine: backend settings.
        cache: response cache file (default ``out/responses.jsonl``).
        model_label: name in tables and the cache key (default: the model argument).
        published: print the paper's rows beside ours.
        bootstrap: bootstrap replicates for the confidence intervals.
        paper: the paper's results.json (default: the packaged copy).
        overwrite: allow ``out`` to replace an ivr output of another kind.
        progress: progress bars / lines.
        respond_hook: wraps the backend's jobs -> replies function (instrumentation, tests).

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
    model = check_model(model)  # and a mistyped model path
    table_rows = load_published(paper) if published else None
    cat = data.open_catalog()
    setups = data.chosen_setups(cat)
    split = data.split(cat)  # eligibility as for every command: the probes of all setups answered
    rows = {"test": split.test_rows, "val": split.val_rows, "eval": split.eval_rows}[probe.people]
    rows = rows[: data.limit_eval_people] if data.limit_eval_people else rows

    out_dir = claim_output(out, "zero_shot", overwrite)
    store = ResponseCache(cache_path, flag="--cache" if cache else "--out")
    model_key = f"{model_label or model}|{scoring}"
    settings = {"scoring": scoring, "max_new_tokens": probe.max_new_tokens, "temperature": 0.0, "top_p": 1.0}
    backend_obj, respond = _engine(backend, scoring, model, engine, probe.max_new_tokens)
    try:
        # logits scoring appends a short answer opening instead of a generated reply
        budget = backend_obj.context_length - (probe.max_new_tokens if scoring == "generate" else 64)
        jobs = build_jobs(cat, rows, setups, probe, lambda text: encode_prompt(backend_obj.tokenizer, text), budget,
                          seed=data.seed, progress=progress)
        sent = query(jobs, respond_hook(respond) if respond_hook else respond, store, model_key, settings,
                     probe.chunk_size, progress=progress)
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
        results.append(summarize_condition(preds, cat, counts, meta, bootstrap, data.seed))

    from ivr.experiment.outputs import write_json, write_text

    write_json(out_dir / "results.json", results)
    text = table14(results, table_rows)
    write_text(out_dir / "table14.md", text)
    plot_figure2(results, out_dir / "figure2.png", table_rows)
    print(text)
    return results


def build_parser() -> Any:
    """The command line (every flag also settable in the YAML config)."""
    parser = make_parser(PROG, "Zero-shot probing of a language model: JSON probe prompts, parsed by group key, "
                               "resumable.")
    parser.add_argument("--model", type=str, required=True, help="model folder or hub id")
    parser.add_class_arguments(DataSettings, "data", help="the catalog and who is probed (same keys everywhere)")
    parser.add_argument("--backend", type=Literal["hf", "vllm"], default="hf", help="generation backend")
    parser.add_argument("--scoring", type=Literal["generate", "logits"], default="generate",
                        help="generate a JSON reply, or score the options from the logits (hf only)")
    parser.add_argument("--cache", type=str | None, default=None, help="response cache (default OUT/responses.jsonl)")
    parser.add_argument("--model_label", type=str | None, default=None, help="model name in tables and cache keys")
    add_report_arguments(parser, bootstrap=200)
    add_output_arguments(parser, DEFAULT_OUT)
    parser.add_class_arguments(ProbeSettings, "probe")
    parser.add_class_arguments(BackendOptions, "engine")
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
    cfg = build_parser().parse_args(argv)
    probe = ProbeSettings(**dict(cfg.probe))
    engine = BackendOptions(**dict(cfg.engine))
    return zero_shot(cfg.model, DataSettings.from_value(cfg.data), cfg.out, cfg.backend, cfg.scoring, probe, engine,
                     cfg.cache, cfg.model_label, cfg.published, cfg.bootstrap, cfg.paper, cfg.overwrite, cfg.progress)


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract (exit status 2 and one ``error:`` line on bad input)."""
    return run(main, argv)


if __name__ == "__main__":  # vLLM spawns workers that re-import the main module
    entry_point(main)
