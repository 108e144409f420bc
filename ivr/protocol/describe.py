"""The protocol a catalog will be evaluated with, in words: ``python -m ivr.catalog protocol CATALOG``.

Lists the probe setups and their questions, who is eligible, how many people are evaluated and
trained on, and how many demonstrations a person gets; warns when the protocol is degenerate
(fewer demonstrations than probes, more demonstrations asked than a survey has, identical setups,
fewer eligible people than the evaluation size).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ivr.catalog.store import Catalog
from ivr.protocol.resolve import Protocol
from ivr.protocol.splits import _probe_valid

ORIGIN = {"default": "derived from the survey's size", "codebook": "codebook protocol", "flag": "flag"}


def _src(protocol: Protocol, key: str) -> str:
    return ORIGIN.get(protocol.origin.get(key, "default"), "default")


def protocol_facts(catalog: Catalog, protocol: Protocol) -> dict[str, Any]:
    """Plain figures of the protocol on this catalog (setups, eligibility, sizes, demonstrations)."""
    cb = catalog.codebook
    setups = protocol.setups(cb)
    n_q = len(cb.questions)
    threshold = protocol.min_valid_for(setups, n_q)
    probe_ok = _probe_valid(catalog, setups)
    enough = catalog.n_valid >= threshold
    n_eligible = int((probe_ok & enough).sum())
    size = protocol.size_for(n_eligible)
    per_setup = []
    for s, probes in enumerate(setups):
        rest = np.ones(n_q, dtype=bool)
        rest[probes] = False
        shown = (catalog.refined[:, rest] >= 0).sum(axis=1)[probe_ok & enough]
        per_setup.append(
            {
                "setup": s,
                "probes": [cb.question_ids[q] for q in probes],
                "n_probes": int(len(probes)),
                "n_other": int(rest.sum()),
                "median_available": float(np.median(shown)) if len(shown) else 0.0,
            }
        )
    return {
        "codebook": cb.name,
        "n_questions": n_q,
        "n_categories": len(cb.categories),
        "n_people": len(catalog),
        "rule": "per_category" if protocol.probes_per_setup is None else "per_setup",
        "protocol": protocol.to_dict(),
        "origin": dict(protocol.origin),
        "setups": per_setup,
        "min_valid": threshold,
        "n_probe_ok": int(probe_ok.sum()),
        "n_enough": int(enough.sum()),
        "n_eligible": n_eligible,
        "split_size": size,
        "n_train": max(0, len(catalog) - min(size, n_eligible)),
    }


def protocol_warnings(facts: dict[str, Any]) -> list[str]:
    """Why a protocol may not measure anything useful, each with the key that changes it."""
    out = []
    p = facts["protocol"]
    seen: dict[tuple[str, ...], int] = {}
    for s in facts["setups"]:
        if s["n_other"] < s["n_probes"]:
            out.append(
                f"setup P{s['setup']} leaves {s['n_other']} demonstration question(s) for {s['n_probes']} "
                "probes (fewer demonstrations than probes): lower probes_per_setup / probes_per_category"
            )
        key = tuple(s["probes"])
        if key in seen:
            out.append(f"setup P{s['setup']} probes the same questions as P{seen[key]}: lower n_setups")
        seen.setdefault(key, s["setup"])
        for which in ("eval_demo_count", "demo_count"):
            v = str(p[which])
            if v.isdigit() and int(v) > s["n_other"]:
                out.append(
                    f"{which} {v} is more than the {s['n_other']} other questions of setup P{s['setup']}: "
                    f"every person gets at most {s['n_other']} (set {which}: all)"
                )
                break
    if facts["n_eligible"] < facts["split_size"]:
        out.append(
            f"only {facts['n_eligible']} of {facts['n_people']} people are eligible, {facts['split_size']} "
            f"are to be evaluated: lower split_size or min_valid (now {facts['min_valid']} of "
            f"{facts['n_questions']} questions)"
        )
    return list(dict.fromkeys(out))


def format_protocol(facts: dict[str, Any], protocol: Protocol, title: str) -> str:
    """The protocol as a few readable lines."""
    p = facts["protocol"]
    rule = (
        f"{p['probes_per_category']} per category"
        if facts["rule"] == "per_category"
        else f"{p['probes_per_setup']} per setup, spread over the categories"
    )
    key = "probes_per_category" if facts["rule"] == "per_category" else "probes_per_setup"
    lines = [
        f"{title}: codebook {facts['codebook']}, {facts['n_questions']} questions in {facts['n_categories']} "
        f"categories, {facts['n_people']} people",
        f"probe setups: {p['n_setups']} ({_src(protocol, 'n_setups')}), probes {rule} ({_src(protocol, key)})",
    ]
    for s in facts["setups"]:
        shown = ", ".join(s["probes"][:12]) + (f", ... ({s['n_probes']} in all)" if s["n_probes"] > 12 else "")
        lines.append(
            f"  P{s['setup']}: {s['n_probes']} probes [{shown}]; {s['n_other']} other questions "
            f"(median {s['median_available']:g} answered by an eligible person)"
        )
    lines += [
        f"eligible: {facts['n_eligible']} of {facts['n_people']} people ({facts['n_probe_ok']} answered every probe "
        f"question, {facts['n_enough']} have >= {facts['min_valid']} valid answers; min_valid: "
        f"{_src(protocol, 'min_valid')})",
        f"evaluation people: {facts['split_size']} (split_size: {_src(protocol, 'split_size')}), rule "
        f"{p['split_rule']} ({_src(protocol, 'split_rule')}); training pool: {facts['n_train']} people",
        f"demonstrations per evaluation example: {p['eval_demo_count']} ({_src(protocol, 'eval_demo_count')}); "
        f"per training example: {p['demo_count']} ({_src(protocol, 'demo_count')})",
        "override any key with --data.KEY on every command, or in the codebook's protocol: section",
    ]
    return "\n".join(lines)
