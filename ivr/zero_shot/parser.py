"""Read a model's JSON answer to the zero-shot probe prompt, robustly and by group key.

The prompt lists probe groups as ``NSG1 .. NSGn`` with options ``NSGi_s1 .. NSGi_sk`` and asks for
``{"NSG1": {"choice": "NSG1_s2", "rationale": "..."}, ...}``. Models wrap that in code fences or
prose, use single quotes, leave trailing commas, drop the rationale or reorder the keys. The parser

* pairs each answer with its group through the NSG number in the key (or in the choice), never
  through its position in the reply (the original study's bug);
* reads ``NSG3_s10`` as option 10 (the original digit matcher read it as 1);
* never raises: a group it cannot read gets -1, which the metrics count as wrong, and the caller
  reports the share of such groups as the parse-failure rate;
* runs in time linear in the reply (a served model can return a megabyte of whitespace, digits or
  nested braces): objects are found in one pass, regexes give back at most one test per character, and a
  number too long to be an option (10+ digits) is rejected for its group only, so the groups
  around it are still read.
"""

from __future__ import annotations

import ast
import json
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

NO_CHOICE = -1
_MAX_DECODES = 64  # candidate objects decoded per reply; keeps a pathological reply cheap
_MAX_OPTION_TEXT = 64  # a bare option value ("s2", "Option 3") is short; longer text is not one

# No quantified piece of these patterns can match what the next piece matches (\s then a digit, a
# quote or a colon, ...), so a failed match gives back one character at a time with one test each: a
# long run of whitespace or digits costs time linear in its length, also without possessive
# quantifiers (Python 3.11+). Optional quotes come with their own trailing whitespace for that reason.
_SEP = r"(?:[_\-]\s*|\s+(?:[_\-]\s*)?)"  # between NSG3 and s2: "_", "-" or spaces
_GROUP_RE = re.compile(r"NSG\s*(\d+)", re.IGNORECASE)
_CHOICE_RE = re.compile(rf"NSG\s*(\d+){_SEP}s\s*(\d+)", re.IGNORECASE)
_OPTION_RE = re.compile(r"\W*(?:(?:s|option|statement)\s*)?(\d+)\W*", re.IGNORECASE)
_TRAILING_COMMA_RE = re.compile(r",(\s*[}\]])")
_FENCE_RE = re.compile(r"```[a-zA-Z]*")
_LONG_NUMBER_RE = re.compile(r"\d{10,}")  # no option has 10 digits; int() of 5,000 digits would fail
_TOO_LONG = "-1"  # what a long number becomes: an option no group has, so only its group is rejected
_SCAN_RE = re.compile(r"[{}\"'\\]")
# fallbacks on raw text when no JSON object decodes: `"choice": "NSG3_s2"` and `NSG3: NSG3_s2`
_Q = r"(?:['\"]\s*)?"  # an optional quote and the spaces after it
_RAW_CHOICE_RE = re.compile(rf"choice['\"]?\s*[:=]\s*{_Q}NSG\s*(\d+){_SEP}s\s*(\d+)", re.IGNORECASE)
_RAW_PAIR_RE = re.compile(rf"NSG\s*(\d+)\s*{_Q}[:=]\s*{_Q}NSG\s*(\d+){_SEP}s\s*(\d+)", re.IGNORECASE)


@dataclass
class ParsedAnswer:
    """The choices read from one reply.

    Attributes:
        choices: per group (in prompt order) the 0-based option index, -1 where unreadable/missing.
        decoded: whether a JSON (or Python-literal) object could be decoded from the reply.
        problems: short notes on what could not be read (for logs, never raised).
    """

    choices: list[int]
    decoded: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def n_failed(self) -> int:
        return sum(c == NO_CHOICE for c in self.choices)


def parse_answer(text: Any, n_options: Sequence[int]) -> ParsedAnswer:
    """Read the chosen option of every probe group from a reply; never raises.

    Args:
        text: the model's reply (anything; non-strings give all -1).
        n_options: number of options of group 1, 2, ... (the prompt's ``NSGi``).

    Returns:
        A :class:`ParsedAnswer` with one entry per group.
    """
    n_groups = len(n_options)
    try:
        return _parse(text, [int(k) for k in n_options])
    except Exception as err:  # noqa: BLE001 - the contract is "never raises"; the failure is reported
        return ParsedAnswer([NO_CHOICE] * n_groups, False, [f"parser error: {type(err).__name__}"])


def _parse(text: Any, n_options: list[int]) -> ParsedAnswer:
    n_groups = len(n_options)
    if not isinstance(text, str):
        return ParsedAnswer([NO_CHOICE] * n_groups, False, ["reply is not text"])
    choices = [NO_CHOICE] * n_groups
    problems: list[str] = []

    def record(group: int | None, option: int | None, source: str) -> None:
        if group is None or option is None:
            return
        if not 1 <= group <= n_groups:
            problems.append(f"{source}: group NSG{group} was not asked")
            return
        if not 1 <= option <= n_options[group - 1]:
            problems.append(f"{source}: NSG{group} has no option s{option}")
            return
        if choices[group - 1] == NO_CHOICE:  # the first readable answer of a group wins
            choices[group - 1] = option - 1

    text = _LONG_NUMBER_RE.sub(_TOO_LONG, text)
    obj = _decode_object(_FENCE_RE.sub("", text))
    rejected: set[tuple[int, int | None]] = set()
    if obj is not None:
        for group, value in _walk(obj, None):
            g, o = _read_choice(value, group)
            if g is not None and group is not None and g != group:
                problems.append(f"key NSG{group} holds a choice of NSG{g}; ignored")
                rejected.add((g, o))
                continue
            record(g, o, "json")
    # groups still missing: look for explicit choices in the raw text (broken JSON, prose answers)
    if NO_CHOICE in choices:
        for m in _RAW_CHOICE_RE.finditer(text):
            if (int(m.group(1)), int(m.group(2))) not in rejected:  # already judged misplaced above
                record(int(m.group(1)), int(m.group(2)), "text")
        for m in _RAW_PAIR_RE.finditer(text):
            if m.group(1) == m.group(2):
                record(int(m.group(1)), int(m.group(3)), "text")
    if NO_CHOICE in choices:
        problems.append(f"{choices.count(NO_CHOICE)} of {n_groups} group(s) unreadable or missing")
    return ParsedAnswer(choices, obj is not None, problems)


_MAX_NESTING = 64  # deeper objects are not answers (and JSON / literal decoders would recurse too far)


@dataclass
class _Span:
    """A balanced ``{...}`` of the reply: where it is, how deep it nests, what it contains."""

    start: int
    end: int = -1
    nesting: int = 1
    children: list[_Span] = field(default_factory=list)


def _decode_object(text: str) -> Any:
    """The richest JSON/Python-literal object found in ``text`` (by number of group answers), or None.

    Outermost objects are tried first; the inner objects of one that does not decode are tried
    next (a broken wrapper around good groups). At most :data:`_MAX_DECODES` objects and about four
    times the reply's length are decoded, so the cost stays linear in the reply.
    """
    todo = deque(_object_spans(text))
    best, best_score, tried, budget = None, 0, 0, 4 * len(text) + 100_000
    while todo and tried < _MAX_DECODES and budget > 0:
        span = todo.popleft()
        obj = None
        if span.nesting <= _MAX_NESTING:
            tried += 1
            budget -= span.end - span.start
            obj = _loads_lenient(text[span.start : span.end + 1])
        if isinstance(obj, (dict, list)):
            score = sum(1 for _ in _walk(obj, None)) + 1
            if score > best_score:
                best, best_score = obj, score
        else:  # a broken (or too deep) wrapper: look inside it
            todo.extendleft(reversed(span.children))
    return best


def _object_spans(text: str) -> list[_Span]:
    """The outermost balanced ``{...}`` of the reply (with their inner ones), in one pass.

    Quotes are tracked only inside braces (prose around the JSON may hold stray quotes), with the
    escapes of JSON strings; an apostrophe inside a word (person's) does not open a string.
    """
    top: list[_Span] = []
    starts: list[int] = []  # the open braces (plain ints: a megabyte of "{" must stay cheap)
    inner: list[list[_Span] | None] = []
    quote, skip = "", -1
    for m in _SCAN_RE.finditer(text):
        ch, i = m.group(), m.start()
        if i == skip:  # the character after a backslash in a string is escaped
            continue
        if quote:
            if ch == "\\":
                skip = i + 1
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            if not starts:
                continue  # prose
            if ch == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < len(text) and text[i + 1].isalnum():
                continue
            quote = ch
        elif ch == "{":
            starts.append(i)
            inner.append(None)
        elif ch == "}" and starts:
            children = inner.pop() or []
            span = _Span(starts.pop(), i, 1 + max((c.nesting for c in children), default=0), children)
            if starts:
                if inner[-1] is None:
                    inner[-1] = []
                inner[-1].append(span)
            else:
                top.append(span)
    return top


def _loads_lenient(blob: str) -> Any:
    """json.loads, then with trailing commas removed, then as a Python literal (single quotes)."""
    no_commas = _TRAILING_COMMA_RE.sub(r"\1", blob)
    for candidate in (blob, no_commas):
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, RecursionError, ValueError):
            pass
    pythonic = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", no_commas)))
    try:
        return ast.literal_eval(pythonic)  # literals only: never executes code
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _key_group(key: Any) -> int | None:
    m = _GROUP_RE.search(str(key))
    # "NSG3_s1" is an option key, not a group key
    if m is None or _CHOICE_RE.search(str(key)):
        return None
    return int(m.group(1))


def _walk(node: Any, group: int | None, depth: int = 0) -> Iterator[tuple[int | None, Any]]:
    """Yield (group from the enclosing keys, choice value) pairs found in a decoded object."""
    if depth > 8:
        return
    if isinstance(node, dict):
        lowered = {str(k).strip().lower(): v for k, v in node.items()}
        if "choice" in lowered:
            yield group, lowered["choice"]
        for key, value in node.items():
            key_group = _key_group(key)
            if isinstance(value, (dict, list)):
                yield from _walk(value, key_group if key_group is not None else group, depth + 1)
            elif key_group is not None and "choice" not in lowered:
                yield key_group, value  # {"NSG1": "NSG1_s2"} or {"NSG1": 2}
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, group, depth + 1)


def _read_choice(value: Any, group: int | None) -> tuple[int | None, int | None]:
    """(group, 1-based option) from a choice value: "NSG3_s2", "s2", "2", 2, ..."""
    if isinstance(value, bool):
        return group, None
    if isinstance(value, int):
        return group, value
    if isinstance(value, float) and value.is_integer():
        return group, int(value)
    if not isinstance(value, str):
        return group, None
    m = _CHOICE_RE.search(value)
    if m:
        return int(m.group(1)), int(m.group(2))
    value = value.strip()
    if len(value) > _MAX_OPTION_TEXT:  # prose, not an option label
        return group, None
    m = _OPTION_RE.fullmatch(value)
    return group, (int(m.group(1)) if m else None)
