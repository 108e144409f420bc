"""Write a small made-up survey with 0-10 scales, as a CSV and its codebook: the README walk-through's input.

    python -m ivr.examples.small_survey --people 2800 --out my_survey

writes ``my_survey/codebook.yaml`` and ``my_survey/survey.csv``: 12 value questions in 3 categories (one
0-10 scale with 11 options, one 1-10 scale, one 3-option item, the rest 4- and 5-point items), three
demographics, and the quirks of exported microdata (codes written as ``3.0``, blank cells, a
"don't know" code 99). Answers follow two latent attitudes per person plus noise, so a person's other
answers say something about the held-out ones. Nothing is downloaded; the same seed writes the same files.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from ivr.cli import add_output_arguments, entry_point, make_parser
from ivr.examples import write_example

AGREE5 = ["strongly agree", "agree", "neither agree nor disagree", "disagree", "strongly disagree"]
IMPORT4 = ["very important", "rather important", "not very important", "not at all important"]
#: id, category, kind, the statement stem, factor loading (a, b)
ITEMS = [
    ("life_sat", "Wellbeing", "scale0_10", "satisfied with my life as a whole", (0.2, 0.9)),
    ("happy", "Wellbeing", "imp4", "happiness in my daily life", (0.1, 0.8)),
    ("health", "Wellbeing", "agree5", "in good health", (0.0, 0.6)),
    ("free_choice", "Wellbeing", "scale1_10", "free to choose how my life turns out", (0.4, 0.6)),
    ("trust_people", "Trust", "trust3", "trust most people", (0.5, 0.4)),
    ("trust_police", "Trust", "agree5", "able to trust the police", (-0.6, 0.3)),
    ("trust_press", "Trust", "agree5", "able to trust the press", (0.5, 0.1)),
    ("trust_courts", "Trust", "imp4", "fair courts", (0.6, 0.2)),
    ("religion", "Values", "imp4", "religion", (-0.9, 0.1)),
    ("tradition", "Values", "agree5", "keen to follow the customs handed down by tradition", (-0.8, 0.0)),
    ("work", "Values", "imp4", "work", (-0.3, 0.3)),
    ("leisure", "Values", "imp4", "leisure time", (0.6, 0.4)),
]
COUNTRIES = {1: "Arland", 2: "Borvia", 3: "Cestia"}


def _question(qid: str, category: str, kind: str, stem: str) -> dict:
    if kind.startswith("scale"):
        lo = 0 if kind == "scale0_10" else 1
        codes = list(range(lo, 11))
        refined = [{"codes": [c], "statement": f"On a scale from {lo} to 10, I am {stem} at level {c}"} for c in codes]
        cut = 5 if lo == 0 else 6
        polar = [
            {"codes": [c for c in codes if c < cut], "statement": f"I am hardly {stem}"},
            {"codes": [c for c in codes if c >= cut], "statement": f"I am largely {stem}"},
        ]
        return {
            "id": qid,
            "category": category,
            "type": kind,
            "ordered": True,
            "codes": codes,
            "refined": refined,
            "polar": polar,
        }
    if kind == "trust3":
        refined = [
            {"codes": [1], "statement": f"I {stem}"},
            {"codes": [2], "statement": f"I cannot {stem}"},
            {"codes": [3], "statement": "It depends on the person whether I trust them"},
        ]
        polar = [
            {"codes": [1], "statement": f"I {stem}"},
            {"codes": [2, 3], "statement": "I need to be careful in dealing with people"},
        ]
        return {
            "id": qid,
            "category": category,
            "type": kind,
            "ordered": False,
            "codes": [1, 2, 3],
            "refined": refined,
            "polar": polar,
        }
    if kind == "agree5":
        refined = [{"codes": [k + 1], "statement": f"I {a} that I am {stem}"} for k, a in enumerate(AGREE5)]
        polar = [{"codes": [1, 2], "statement": f"I am {stem}"}, {"codes": [3, 4, 5], "statement": f"I am not {stem}"}]
        return {
            "id": qid,
            "category": category,
            "type": kind,
            "ordered": True,
            "codes": [1, 2, 3, 4, 5],
            "refined": refined,
            "polar": polar,
        }
    refined = [{"codes": [k + 1], "statement": f"For me, {stem} is {a}"} for k, a in enumerate(IMPORT4)]
    polar = [
        {"codes": [1, 2], "statement": f"For me, {stem} is important"},
        {"codes": [3, 4], "statement": f"For me, {stem} is not important"},
    ]
    return {
        "id": qid,
        "category": category,
        "type": kind,
        "ordered": True,
        "codes": [1, 2, 3, 4],
        "refined": refined,
        "polar": polar,
    }


def codebook() -> dict:
    return {
        "name": "small_survey",
        "roles": {"person_id": "resp_id", "country": "country"},
        "missing_codes": [99],  # "don't know", in every question
        "categories": ["Wellbeing", "Trust", "Values"],
        "questions": [_question(qid, cat, kind, stem) for qid, cat, kind, stem, _ in ITEMS],
        "demographics": [
            {
                "id": "country",
                "column": "country",
                "name": "country",
                "template": "I live in {value}",
                "values": dict(COUNTRIES),
                "dimension": "Country",
            },
            {
                "id": "sex",
                "column": "sex",
                "name": "sex",
                "template": "I am {value}",
                "values": {1: "a man", 2: "a woman"},
                "dimension": "Sex",
            },
            {
                "id": "age",
                "column": "age_group",
                "name": "age",
                "template": "I am {value} years old",
                "values": {1: "18-34", 2: "35-54", 3: "55 or more"},
                "groups": {},
                "dimension": "Age",
            },
        ],
    }


def answers(people: int, seed: int) -> list[dict]:
    """One row per respondent, as a statistics package would export it (float codes, blanks, 99)."""
    rng = np.random.default_rng(seed)
    country = rng.integers(1, 4, people)
    factors = rng.normal(size=(people, 2)) + np.stack([(country - 2) * 0.6, (2 - country) * 0.3], axis=1)
    rows = []
    for p in range(people):
        row = {
            "resp_id": f"R{p + 1:05d}",
            "country": f"{country[p]:.1f}",
            "sex": f"{rng.integers(1, 3):.1f}",
            "age_group": f"{rng.integers(1, 4):.1f}",
        }
        for qid, _, kind, _, (a, b) in ITEMS:
            z = a * factors[p, 0] + b * factors[p, 1] + rng.normal(scale=0.6)
            if kind.startswith("scale"):
                lo = 0 if kind == "scale0_10" else 1
                code = int(np.clip(np.round(5 + 1.8 * z), lo, 10))
            else:
                n = {"trust3": 3, "agree5": 5, "imp4": 4}[kind]
                cuts = np.linspace(-1.2, 1.2, n - 1)
                code = int(n - np.searchsorted(cuts, z))  # high attitude -> code 1
            draw = rng.random()
            row[qid] = "" if draw < 0.03 else "99.0" if draw < 0.04 else f"{code:.1f}"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> Path:
    p = make_parser("python -m ivr.examples.small_survey", __doc__.split("\n")[0])
    p.add_argument("--people", type=int, default=2800, help="respondents to write")
    p.add_argument("--seed", type=int, default=0, help="the same seed writes the same files")
    add_output_arguments(p, None, "a new folder for codebook.yaml and survey.csv")
    cfg = p.parse_args(sys.argv[1:] if argv is None else argv)
    rows = answers(cfg.people, cfg.seed)

    def write_csv(path: Path) -> None:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    out = write_example(cfg.out, cfg.overwrite, codebook(), write_csv)
    print(f"wrote {out}/codebook.yaml and {out}/survey.csv ({cfg.people} people, {len(ITEMS)} questions)")
    return out


if __name__ == "__main__":
    entry_point(main)
