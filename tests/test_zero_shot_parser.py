"""Property tests of the zero-shot answer parser: never raises; recovers choices through common noise."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.zero_shot.parser import NO_CHOICE, parse_answer

ROOT = Path(__file__).resolve().parents[1]

# prose around the JSON: no braces or quotes (they would open another object or string)
PROSE = st.text(alphabet=st.characters(blacklist_characters="{}\"'`", blacklist_categories=("Cs",)), max_size=60)
RATIONALE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
SAFE_RATIONALE = st.text(alphabet="abcdefghij klmnop,.;:!?()-", max_size=40)


@st.composite
def answered_prompt(draw):
    """Options per group, the intended choice per group (0-based) and a well-formed JSON answer."""
    n_options = draw(st.lists(st.integers(2, 12), min_size=1, max_size=40))
    choices = [draw(st.integers(0, k - 1)) for k in n_options]
    order = draw(st.permutations(range(len(n_options))))
    entries = []
    for g in order:
        value: dict = {"choice": f"NSG{g + 1}_s{choices[g] + 1}"}
        if draw(st.booleans()):
            value["rationale"] = draw(RATIONALE)
            if draw(st.booleans()):
                value = {"rationale": value["rationale"], "choice": value["choice"]}
        entries.append((f"NSG{g + 1}", value))
    return n_options, choices, entries


def _render(entries, style: str, indent: int | None) -> str:
    if style == "json":
        return json.dumps(dict(entries), indent=indent, ensure_ascii=False)
    if style == "trailing_commas":
        body = ",\n".join(
            f'"{k}": {{' + ", ".join(f'"{a}": {json.dumps(b)}' for a, b in v.items()) + ",}" for k, v in entries
        )
        return "{" + body + ",}"
    # single quotes, Python-literal style (rationales restricted to quote-free text)
    body = ", ".join(f"'{k}': {{" + ", ".join(f"'{a}': '{b}'" for a, b in v.items()) + "}" for k, v in entries)
    return "{" + body + "}"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.lists(st.integers(1, 9), max_size=10))
def test_never_raises_on_arbitrary_text(text, n_options):
    parsed = parse_answer(text, n_options)
    assert len(parsed.choices) == len(n_options)
    assert all(c == NO_CHOICE or 0 <= c < k for c, k in zip(parsed.choices, n_options, strict=True))


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.binary(max_size=20), st.lists(st.integers(), max_size=3)))
def test_never_raises_on_non_text(reply):
    assert parse_answer(reply, [2, 3]).choices == [NO_CHOICE, NO_CHOICE]


@settings(max_examples=150, deadline=None)
@given(answered_prompt(), PROSE, PROSE, st.booleans(), st.sampled_from([None, 2, 4]))
def test_recovers_choices_from_json_in_noise(case, before, after, fenced, indent):
    n_options, choices, entries = case
    blob = _render(entries, "json", indent)
    text = f"{before}\n```json\n{blob}\n```\n{after}" if fenced else f"{before}{blob}{after}"
    parsed = parse_answer(text, n_options)
    assert parsed.choices == choices
    assert parsed.n_failed == 0


@settings(max_examples=100, deadline=None)
@given(answered_prompt(), PROSE, st.sampled_from(["trailing_commas", "single_quotes"]), SAFE_RATIONALE)
def test_recovers_choices_from_lenient_json(case, before, style, rationale):
    n_options, choices, entries = case
    entries = [(k, {a: (rationale if a == "rationale" else b) for a, b in v.items()}) for k, v in entries]
    parsed = parse_answer(before + _render(entries, style, None), n_options)
    assert parsed.choices == choices


def test_pairs_by_key_not_position_and_reads_two_digit_options():
    reply = '{"NSG2": {"choice": "NSG2_s10"}, "NSG1": {"choice": "NSG1_s1"}}'
    assert parse_answer(reply, [3, 12]).choices == [0, 9]


def test_missing_and_out_of_range_groups_fail_alone():
    reply = '{"NSG1": {"choice": "NSG1_s3"}, "NSG2": {"choice": "NSG2_s9"}, "NSG7": {"choice": "NSG7_s1"}}'
    parsed = parse_answer(reply, [3, 3, 2])
    assert parsed.choices == [2, NO_CHOICE, NO_CHOICE]
    assert parsed.n_failed == 2 and parsed.problems


def test_short_forms_and_broken_json_fallback():
    assert parse_answer('{"NSG1": "NSG1_s2", "NSG2": 1, "NSG3": {"choice": "s3"}}', [2, 2, 3]).choices == [1, 0, 2]
    broken = 'NSG1: {"choice": "NSG1_s2", "rationale": "unterminated...\nNSG2 -> "choice": "NSG2_s1"'
    assert parse_answer(broken, [2, 2]).choices == [1, 0]


def test_choice_under_another_groups_key_is_rejected():
    assert parse_answer('{"NSG1": {"choice": "NSG2_s1"}}', [2, 2]).choices == [NO_CHOICE, NO_CHOICE]


def test_echoed_question_is_not_an_answer():
    echo = json.dumps({"new statement group 1 (NSG1)": [{"NSG1_s1": "a"}, {"NSG1_s2": "b"}]})
    assert parse_answer(echo, [2]).choices == [NO_CHOICE]


# Replies built against each pattern's weak spot: runs of whitespace between optional pieces (a quote,
# a separator) that a backtracking matcher would split every possible way (quadratic or worse).
PATHOLOGICAL = r"""
import sys
from ivr.zero_shot.parser import parse_answer
ws = " " * int(sys.argv[1])
for text in ("choice: " + ws + "x", "NSG1" + ws + "x", "NSG1:" + ws + "x", "NSG1" + ws + "_" + ws + "x",
             '"choice"' + ws + ":" + ws + '"' + ws + "NSG1" + ws + "x", "NSG1 " * (len(ws) // 5), "NSG" + "1" * len(ws),
             "," + ws + "x", '{"NSG1": {"choice": "' + ws + '"}}'):
    assert parse_answer(text, [2, 3]).choices == [-1, -1]
print("ok")
"""


def test_pathological_replies_are_read_in_linear_time():
    """200,000 spaces take well under a second each here; a matcher that backtracks over them (the patterns
    with their possessive quantifiers simply dropped) needs about 10 s for 20,000 and ~100x that for 200,000."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", PATHOLOGICAL, "200000"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def _python310() -> str | None:
    """A Python 3.10 interpreter: pyenv's (this machine kind has one), else python3.10 on PATH if it runs."""
    import subprocess

    pyenv = sorted(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")).glob("versions/3.10.*/bin/python"))
    for python in [str(p) for p in pyenv] + [shutil.which("python3.10") or ""]:
        if python and subprocess.run([python, "-c", "pass"], capture_output=True).returncode == 0:  # not a bare shim
            return python
    return None


def test_parser_runs_on_python_310():
    """pyproject.toml says Python >= 3.10: the parser (standard library only) imports and reads answers there."""
    import subprocess

    python = _python310()
    if python is None:
        pytest.skip("no Python 3.10 interpreter here (python3.10 on PATH or pyenv's versions/3.10.*)")
    check = PATHOLOGICAL.replace(
        'print("ok")',
        (
            "import sys\nassert sys.version_info[:2] == (3, 10), sys.version\n"
            'assert parse_answer(\'{"NSG2": {"choice": "NSG2 - s10"}, "NSG1": "s1"}\', [3, 12]).choices == [0, 9]\n'
            "assert parse_answer('x NSG1: \"NSG1_s2\" choice = NSG2 s1', [2, 2]).choices == [1, 0]\n"
            'print("ok")'
        ),
    )
    done = subprocess.run(
        [python, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + check, "20000"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
