"""The ``elicitation`` experiment's stopping rules: questions asked and accuracy reached per rule.

Run ``stop_<scorer>_<policy>`` (scorers with predictive probabilities: ``bayes`` and ``reasoner``;
Resemble's vote has none) replays each scored person's asked sequence (``seq_<policy>``, the
catalog's answers, a missing answer a skip) and records after every k questions the scorer's expected
accuracy on the setup's probes and the expected gain of the sequence's next question
(:mod:`ivr.elicit.stopping`). Each rule of ``stopping:`` stops a person at the first k where it fires
(or where the sequence ends); the person is then scored at that k by the protocol, like the
``score_*`` runs. The table (``stopping_text``) gives per rule the mean questions asked and answered,
the accuracy reached with its bootstrap interval, and random's accuracy at the largest k (200 random
demonstrations) under the same scorer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ivr.elicit.state import PersonState, catalog_answer
from ivr.elicit.stopping import StoppingRule, expected_accuracy, extended

STOP_SCORERS = ("bayes", "reasoner")
DEFAULT_RULES = [
    {"max_questions": 10},
    {"max_questions": 20},
    {"max_questions": 40, "target": 0.6},
    {"max_questions": 40, "min_gain": 0.001},
    {"max_questions": 40, "target": 0.6, "min_gain": 0.001},
]


def parse_rules(rules: list[dict[str, Any]]) -> list[StoppingRule]:
    """The ``stopping:`` list as rules (ConfigError naming the bad one)."""
    return [StoppingRule.from_dict(dict(r), f"--stopping item {i}") for i, r in enumerate(rules)]


def traces(
    predict: Any,
    catalog: Any,
    rows: np.ndarray,
    sequences: list[list[int]],
    probes: np.ndarray,
    setup: int,
    steps: int,
    gains: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(expected accuracy [N, steps + 1], expected gain of the next question [N, steps]; nan = no question)."""
    n = len(rows)
    n_q = len(catalog.codebook.questions)
    states = [PersonState(n_q, probes, row=int(r), setup=setup) for r in np.asarray(rows).tolist()]
    acc = np.full((n, steps + 1), np.nan)
    gain = np.full((n, steps), np.nan)
    for k in range(steps + 1):
        acc[:, k] = expected_accuracy(predict(states, probes))
        if k == steps:
            break
        live = [i for i in range(n) if k < len(sequences[i])]
        if gains and live:
            nxt = [int(sequences[i][k]) for i in live]
            both = predict([states[i] for i in live], np.array(nxt))  # [L, L, O]: one call, the diagonal used
            p_next = np.nan_to_num(both[np.arange(len(live)), np.arange(len(live))])
            hyp, owner, weight = [], [], []
            for j, (i, q) in enumerate(zip(live, nxt)):
                opts = np.flatnonzero(p_next[j] > 0)
                hyp += [extended(states[i], q, int(a)) for a in opts]
                owner += [j] * len(opts)
                weight += (p_next[j, opts] / p_next[j, opts].sum()).tolist()
            after = expected_accuracy(predict(hyp, probes)) * np.asarray(weight)
            expected = np.bincount(np.asarray(owner), weights=after, minlength=len(live))
            gain[live, k] = expected - acc[live, k]
        for i in live:
            q = int(sequences[i][k])
            states[i].record(q, catalog_answer(catalog.refined, states[i].row, q))
    return acc, gain


def stop_points(
    rule: StoppingRule, acc: np.ndarray, gain: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Per person, the k at which ``rule`` stops and why (module doc)."""
    ks, why = [], []
    for i in range(len(acc)):
        limit = min(rule.max_questions, int(lengths[i]), acc.shape[1] - 1)
        for k in range(limit + 1):
            if k == rule.max_questions:
                reason = "max"
            elif rule.target is not None and acc[i, k] >= rule.target:
                reason = "target"
            elif k == limit:
                reason = "exhausted"
            elif rule.min_gain is not None and gain[i, k] < rule.min_gain:
                reason = "gain"
            else:
                continue
            ks.append(k)
            why.append(reason)
            break
    return np.asarray(ks, dtype=np.int64), why


def execute_stopping(exp: Any, run: Any) -> dict[str, Any]:
    """Run ``stop_<scorer>_<policy>`` of the elicitation experiment ``exp`` (module doc)."""
    import time

    from ivr.elicit.stopping import bayes_predictor, reasoner_predictor
    from ivr.experiment.bayes import setup_probes
    from ivr.experiment.models import SETUPS
    from ivr.predict.bayes import BayesPosterior

    start = time.process_time()
    p = run.params
    rules = parse_rules(p["rules"])
    seq = exp.sequences(p["sequences"]["policy"])
    rows = np.asarray(seq["rows"], dtype=np.int64)
    setups = setup_probes(exp.catalog, SETUPS)
    scorer = exp.scorer(p)  # the row every rule's stopping points are scored with
    if p["scorer"] == "bayes":
        predict = bayes_predictor(BayesPosterior(scorer.model))
    else:
        predict = reasoner_predictor(scorer.predictor)
    steps = max(r.max_questions for r in rules)
    gains = any(r.min_gain is not None for r in rules)
    found = {}
    for s, probes in setups.items():
        lists = seq["sequences"][str(s)]
        acc, gain = traces(predict, exp.catalog, rows, lists, probes, s, min(steps, max(map(len, lists))), gains)
        found[s] = (acc, gain, np.array([len(x) for x in lists]))
    by_rule = []
    refined = exp.catalog.refined
    for rule in rules:
        stopped, asked, answered, reasons = {}, [], [], []
        for s in setups:
            ks, why = stop_points(rule, *found[s])
            lists = seq["sequences"][str(s)]
            shown = []
            for r, k, q in zip(rows.tolist(), ks.tolist(), lists):
                q = np.asarray(q[:k], dtype=np.int64)
                shown.append(q[refined[r, q] >= 0])
            asked += ks.tolist()
            answered += [len(x) for x in shown]
            reasons += why
            stopped[s] = shown
        scored = exp.score(scorer, exp.asked_examples(rows, stopped, rule.label), [])
        scored.pop("per_group", None)
        by_rule.append(
            {
                "rule": rule.as_dict(),
                "label": rule.label,
                "asked": float(np.mean(asked)),
                "answered": float(np.mean(answered)),
                "reasons": {r: reasons.count(r) for r in set(reasons)},
                **scored,
            }
        )
    return {
        "scorer": p["scorer"],
        "policy": p["sequences"]["policy"],
        "stopping": by_rule,
        "cpu_seconds": time.process_time() - start,
    }


def stopping_table(settings: Any, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per (scorer, policy, rule): questions asked / answered, accuracy and interval, random@max(ks)."""
    metric = settings.metric
    k_max = str(max(settings.ks))
    random_at = {
        r["scorer"]: r["by_k"][k_max]["row"].get(metric)
        for r in results.values()
        if "by_k" in r and r["policy"] == "random" and k_max in r["by_k"]
    }
    rows = []
    for r in results.values():
        for item in r.get("stopping", []):
            low, high = item["ci"].get(metric) or [None, None]
            rows.append(
                {
                    "scorer": r["scorer"],
                    "policy": r["policy"],
                    "rule": item["label"],
                    "asked": item["asked"],
                    "answered": item["answered"],
                    metric: item["row"].get(metric),
                    f"{metric} ci low": low,
                    f"{metric} ci high": high,
                    f"random@{k_max}": random_at.get(r["scorer"]),
                }
            )
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows).set_index(["scorer", "policy", "rule"])
    order = {n: i for i, n in enumerate(settings.policies)}
    s_order = {n: i for i, n in enumerate(settings.scorers)}
    r_order = {StoppingRule.from_dict(dict(x)).label: i for i, x in enumerate(settings.stopping or [])}
    key = [(s_order.get(s, 99), order.get(p, 99), r_order.get(u, 99)) for s, p, u in frame.index]
    return frame.iloc[sorted(range(len(frame)), key=key.__getitem__)]


def stopping_text(settings: Any, results: dict[str, dict[str, Any]]) -> str:
    table = stopping_table(settings, results)
    if table.empty:
        return ""
    metric = settings.metric
    return "\n".join(
        [
            f"Stopping rules: mean questions asked / answered and {metric} accuracy reached "
            f"(bootstrap 95% interval), beside random at k={max(settings.ks)}:",
            table.round(2).to_string(),
        ]
    )
