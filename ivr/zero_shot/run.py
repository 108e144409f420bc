"""Build the zero-shot probe prompts, query a backend through the cache and collect predictions.

One prompt per (person, setup, probe form, demonstration count): the person's demonstration
statements (and demographics, when asked) followed by every probe group of the setup, answered as
one JSON object (``configs/prompts/probe_json.jinja``). Demonstrations never include a probe
question of the setup; the draw is prefix-consistent, so the 50 statements of d=50 are the first
50 of d=200. A prompt longer than the context (minus the reply budget) loses whole demonstration
statements from its end until it fits; the dropped count is reported per condition.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import numpy as np

from ivr.catalog.store import Catalog
from ivr.data.prompts import format_statement, render_probe_json
from ivr.errors import ConfigError, InputError
from ivr.metrics.predictions import FORM_NAMES, Predictions
from ivr.progress import Progress
from ivr.protocol.sampling import sample_demos
from ivr.zero_shot.cache import ResponseCache, prompt_hash
from ivr.zero_shot.parser import parse_answer

DEMOGRAPHICS_MODES = ("none", "with", "only")
PEOPLE = ("test", "val", "eval")


@dataclass
class ProbeSettings:
    """What is probed and how the prompts are built (``--probe.KEY``).

    Who is probed (catalog, split, setups, seed, a limit on people) is the shared ``--data.*``
    section (:class:`ivr.settings.DataSettings`), as for every other command.

    Attributes:
        demo_counts: demonstration counts to run (the study: 0, 50, 100, 150, 200); None = the survey
            protocol's ``eval_demo_count`` (200 for WVS-7; every valid answer for a small survey).
        demo_form: form of the demonstration statements ("polar" or "refined").
        probe_forms: forms of the probe options ("polar", "refined").
        demographics: "none", "with" (demographic statements before the demonstrations) or "only"
            (demographics and no demonstrations; demo_counts is then ignored).
        people: which evaluation people ("eval" = all, as the study probed; "test" or "val" = a half).
        template: probe layout template name or .jinja path.
        max_new_tokens: reply budget in tokens (also reserved when fitting the prompt).
        chunk_size: prompts sent to the backend between cache writes.
    """

    demo_counts: list[int] | None = None
    demo_form: str = "polar"
    probe_forms: list[str] = field(default_factory=lambda: ["polar"])
    demographics: str = "none"
    people: str = "eval"
    template: str = "probe_json"
    max_new_tokens: int = 1024
    chunk_size: int = 16

    def validate(self) -> None:
        """Raise one ConfigError listing every bad setting (flag, value, fix)."""
        bad = []
        if self.demographics not in DEMOGRAPHICS_MODES:
            bad.append(f"--probe.demographics={self.demographics!r}: use one of {DEMOGRAPHICS_MODES}")
        if self.demo_form not in FORM_NAMES:
            bad.append(f"--probe.demo_form={self.demo_form!r}: use one of {FORM_NAMES}")
        if not self.probe_forms or any(f not in FORM_NAMES for f in self.probe_forms):
            bad.append(f"--probe.probe_forms={self.probe_forms!r}: a non-empty list of {FORM_NAMES}")
        if self.demo_counts is not None and (any(int(d) < 0 for d in self.demo_counts) or not self.demo_counts):
            bad.append(f"--probe.demo_counts={self.demo_counts!r}: a non-empty list of counts >= 0")
        if self.people not in PEOPLE:
            bad.append(f"--probe.people={self.people!r}: use one of {PEOPLE}")
        if self.max_new_tokens < 1 or self.chunk_size < 1:
            bad.append("--probe.max_new_tokens and --probe.chunk_size must be >= 1")
        if bad:
            raise ConfigError("invalid zero-shot settings: " + "; ".join(bad))

    def counts(self) -> list[int]:
        if self.demographics == "only":
            return [0]
        if self.demo_counts is None:
            raise ValueError("ProbeSettings.counts: demo_counts is unset; zero_shot() fills it from the protocol")
        return [int(d) for d in self.demo_counts]


@dataclass
class Job:
    """One prompt: who, which setup / form / count, its token ids, demos dropped, options per group.

    ``text`` is the user message the ids encode (what an HTTP backend sends). HTTP backends keep
    only the prompt's length in ``ids`` (a ``range``: counted with a tokenizer or estimated) and key
    the cache by ``text``.
    """

    row: int
    setup: int
    form: str
    demos: int
    questions: np.ndarray
    ids: list[int] | range
    dropped: int
    n_options: list[int]
    key: str = ""
    text: str = ""


def _demographic_lines(catalog: Catalog) -> list[np.ndarray]:
    return [catalog.demographic_statements(d.id) for d in catalog.codebook.demographics]


def build_jobs(
    catalog: Catalog,
    rows: np.ndarray,
    setups: dict[int, np.ndarray],
    settings: ProbeSettings,
    encode: Callable[[str], list[int]],
    budget: int,
    seed: int = 0,
    progress: bool = True,
) -> list[Job]:
    """Every prompt of a run, fitted to ``budget`` tokens.

    Args:
        catalog: the catalog.
        rows: evaluation people (catalog rows).
        setups: setup number -> its probe question indices.
        settings: the probe settings.
        encode: user text -> model input token ids (chat template applied).
        budget: max prompt tokens (context length minus the reply budget).
        seed: demonstration sampling seed (``--data.seed``).
        progress: show progress.

    Raises:
        InputError: a prompt does not fit even without demonstrations (names person and setup).
    """
    cb = catalog.codebook
    valid = catalog.refined >= 0
    demo_answers = catalog.answers(settings.demo_form)
    demo_lines = _demographic_lines(catalog) if settings.demographics != "none" else []
    jobs = []
    total = len(rows) * len(setups) * len(settings.probe_forms) * len(settings.counts())
    bar = Progress(total, "build prompts", "prompts", enabled=progress)
    for row in rows:
        pid = catalog.person_ids[row]
        demog = [format_statement(str(col[row])) for col in demo_lines if col[row] is not None]
        for s, probes in setups.items():
            order = sample_demos(valid[row], probes, max(settings.counts()), seed, pid, s, 0)
            for form in settings.probe_forms:
                groups = [[format_statement(t) for t in cb.questions[q].statements(form)] for q in probes]
                for d in settings.counts():
                    demos = [
                        format_statement(cb.questions[q].statements(settings.demo_form)[demo_answers[row, q]])
                        for q in order[:d]
                    ]
                    text_for = lru_cache(maxsize=4)(
                        partial(_prompt_text, settings.template, demog + demos, len(demog), groups)
                    )
                    ids_for = lambda n, text_for=text_for: encode(text_for(n))  # noqa: E731
                    ids, keep = ids_for(len(demos)), len(demos)
                    if len(ids) > budget:
                        keep, ids = _fit(ids_for, len(demos), budget, f"person row {row}, setup {s}")
                    jobs.append(
                        Job(
                            int(row),
                            int(s),
                            form,
                            d,
                            probes,
                            ids,
                            len(demos) - keep,
                            [len(g) for g in groups],
                            text=text_for(keep),
                        )
                    )
                    bar.update()
    bar.close()
    return jobs


def _prompt_text(template: str, known: list[str], n_fixed: int, groups: list[list[str]], n: int) -> str:
    """The prompt keeping the first ``n_fixed`` statements (demographics) and ``n`` demonstrations."""
    return render_probe_json(known[: n_fixed + n], groups, template)


def _fit(ids_for: Callable[[int], list[int]], n: int, budget: int, where: str) -> tuple[int, list[int]]:
    """Largest number of leading demonstrations whose prompt fits (binary search)."""
    lo_ids = ids_for(0)
    if len(lo_ids) > budget:
        raise InputError(
            f"{where}: the prompt is {len(lo_ids)} tokens without any demonstration, over the budget of "
            f"{budget} (context minus --probe.max_new_tokens); lower max_new_tokens or use a longer-context model"
        )
    lo, hi, best = 0, n - 1, lo_ids
    while lo < hi:
        mid = (lo + hi + 1) // 2
        ids = ids_for(mid)
        if len(ids) <= budget:
            lo, best = mid, ids
        else:
            hi = mid - 1
    return lo, best  # best was set whenever lo moved, so it is the prompt with lo demonstrations


def query(
    jobs: list[Job],
    respond: Callable[[list[Job]], list[str]],
    cache: ResponseCache,
    model_key: str,
    settings: dict[str, Any],
    chunk_size: int,
    progress: bool = True,
) -> int:
    """Ask the backend for every job not in the cache, appending each reply as it arrives.

    Args:
        jobs: the prompts (their ``key`` is filled in here).
        respond: jobs -> replies (generated text, or JSON option probabilities for logits scoring).
        cache: the response cache.
        model_key: the cache's model key.
        settings: decoding settings hashed with each prompt.
        chunk_size: prompts per backend call (the most a kill can lose).
        progress: show progress (a bar on a terminal, plain lines otherwise).

    Returns:
        How many prompts were sent to the backend (cached ones are never re-sent).
    """
    todo = pending_jobs(jobs, cache, model_key, settings)
    bar = Progress(len(todo), "query the model", "prompts", enabled=progress and bool(todo))
    try:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            for job, reply in zip(chunk, respond(chunk), strict=True):
                cache.put(model_key, job.key, reply, row=job.row, setup=job.setup, form=job.form, demos=job.demos)
            bar.update(len(chunk))
    finally:
        bar.close()
    return len(todo)


def pending_jobs(
    jobs: list[Job],
    cache: ResponseCache,
    model_key: str,
    settings: dict[str, Any],
    prompt_of: Callable[[Job], Any] = lambda job: job.ids,
) -> list[Job]:
    """Fill in each job's cache key (hash of ``prompt_of(job)`` and ``settings``) and return the jobs
    without a cached reply, each distinct prompt once."""
    todo, seen = [], set()
    for job in jobs:
        job.key = prompt_hash(prompt_of(job), settings)
        if cache.get(model_key, job.key) is None and job.key not in seen:
            seen.add(job.key)
            todo.append(job)
    return todo


def collect(
    jobs: list[Job], catalog: Catalog, cache: ResponseCache, model_key: str, scoring: str
) -> tuple[Predictions, dict[str, int]]:
    """Predictions from the cached replies (parsed JSON, or option probabilities for logits scoring).

    Returns:
        The predictions and counts: prompts, groups, unreadable groups, prompts whose reply held no object.
    """
    parts, counts = [], {"prompts": 0, "groups": 0, "unreadable_groups": 0, "undecoded_prompts": 0}
    for job in jobs:
        reply = cache.get(model_key, job.key)["response"]
        n_opt = job.n_options
        probs = None
        if scoring == "logits":
            probs = np.full((len(n_opt), max(8, *n_opt)), np.nan)
            for k, p in enumerate(json.loads(reply)):
                if p is not None:  # None: a served model returned no option's logprob for the group
                    probs[k, : len(p)] = p
            missing = np.isnan(probs).all(axis=1)
            pred = np.where(missing, -1, np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1))
            decoded = not missing.all()
        else:
            parsed = parse_answer(reply, n_opt)
            pred, decoded = np.asarray(parsed.choices), parsed.decoded
        f = FORM_NAMES.index(job.form)
        target = catalog.answers(job.form)[job.row, job.questions].astype(np.int64)
        n = len(job.questions)
        parts.append(
            Predictions(np.full(n, job.row), np.full(n, job.setup), np.full(n, f), job.questions, pred, target, probs)
        )
        counts["prompts"] += 1
        counts["groups"] += n
        counts["unreadable_groups"] += int((pred < 0).sum())
        counts["undecoded_prompts"] += int(not decoded)
    return Predictions.concat(parts), counts
