"""Prompt templates (Jinja2 files under ``configs/prompts/``) and how they are rendered.

A layout template has two required slots, ``known_statements`` (a person's statements, one line
each) and ``options`` (the probe: its option lines, or its question token for the statement
tokenizer), in that order. Top-level ``{% set %}`` lines configure the line formats and the answer
slot. Rendering the template with sentinel strings splits it into three fixed pieces
(``head``/``middle``/``tail``); the text before ``options`` is what packed probes share.

Option labels: ``{k}`` in ``option_line``, ``answer_label`` and ``response`` is the option's label in
a *label scheme* (``numbers``: 1, 2, ..., 10, ...; ``letters``: A, B, ..., Z). The template lists the
schemes it accepts (``label_schemes``, tried in order); :func:`ivr.data.tokenization.choose_label_scheme`
picks, per tokenizer, the first one in which every label is exactly one token at the answer slot.

Chat templates: a text layout is wrapped in the tokenizer's chat template (:func:`chat_wrap`);
:func:`set_chat_template` gives a tokenizer a built-in one by name (``llama3.1``, under
``configs/prompts/chat/``) or a ``.jinja`` file, for tokenizer folders that ship none.

The zero-shot layout (``probe_json.jinja``) lists every probe group of a person as JSON and asks
for a JSON answer (choice + rationale per group); :func:`render_probe_json` and
:func:`parse_probe_json` handle it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ivr.errors import IvrError

LAYOUT_SLOTS = ("known_statements", "options")
PROBE_JSON_SLOTS = ("known_statements", "probe_groups", "answer_format")
LAYOUT_KINDS = ("text", "statement")
LABEL_SCHEMES = ("numbers", "letters")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SENTINEL = "\x00{}\x00"
_CHAT_SENTINEL = "\x00IVR-USER-CONTENT\x00"
# without a chat template the answer slot follows the user text after a blank line
PLAIN_ANSWER_SEPARATOR = "\n\n"


class PromptError(IvrError, ValueError):
    """A prompt template is unusable; the message names the file and what is wrong."""


def prompts_dir() -> Path:
    """Folder of the built-in templates: ``$IVR_PROMPTS_DIR`` or the repository's ``configs/prompts``."""
    env = os.environ.get("IVR_PROMPTS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "configs" / "prompts"


def template_path(name_or_path: str | Path) -> Path:
    """Resolve a built-in template name (``choice``, ``statement``, ``probe_json``) or a file path."""
    path = Path(name_or_path)
    if path.suffix != ".jinja" or not path.exists():
        builtin = prompts_dir() / f"{name_or_path}.jinja"
        if builtin.exists():
            return builtin
    if not path.exists():
        raise PromptError(
            f"prompt template {str(name_or_path)!r} not found: give a .jinja file or one of "
            f"{sorted(p.stem for p in prompts_dir().glob('*.jinja'))} (looked in {prompts_dir()})"
        )
    return path


class _TemplateSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox: a template formats text and can reach nothing else.

    Attribute access to Python internals (``__globals__``, ``__class__``, ...), calls of unsafe
    functions and changes to lists or dicts fail at once with a :class:`PromptError` naming the
    template file, so a ``.jinja`` file can never run code on the user's machine.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
        self.path = path

    def _refuse(self, what: str) -> PromptError:
        return PromptError(
            f"{self.path}: the template reaches for {what}, which templates may not do "
            "(they only format text; ivr renders them in a sandbox)"
        )

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise self._refuse(f"'{attribute}' of a {type(obj).__name__} object")

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().call(__context, __obj, *args, **kwargs)
        except SecurityError as err:
            raise self._refuse(str(err)) from None


def _load_template(path: Path, slots: tuple[str, ...]) -> tuple[jinja2.Template, dict[str, Any]]:
    """Parse a template (in a sandbox), check its required slots and read its top-level settings."""
    env = _TemplateSandbox(path)
    source = path.read_text(encoding="utf-8")
    try:
        used = meta.find_undeclared_variables(env.parse(source))
        template = env.from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise PromptError(f"{path}: Jinja syntax error on line {err.lineno}: {err.message}") from err
    for slot in slots:
        if slot not in used:
            raise PromptError(f"{path}: template is missing the required slot {{{{ {slot} }}}}")
    try:
        module = template.make_module({s: "" for s in used})
    except SecurityError as err:
        raise env._refuse(str(err)) from None
    settings = {k: v for k, v in module.__dict__.items() if not k.startswith("_")}
    return template, settings


@dataclass(frozen=True)
class PromptLayout:
    """A parsed layout template.

    Attributes:
        name: the template's file stem.
        path: the template file.
        kind: ``"text"`` (statements as words) or ``"statement"`` (one token per statement).
        head: fixed text before the known statements.
        middle: fixed text between the known statements and the probe.
        tail: fixed text after the probe (before the chat template's assistant turn).
        statement_line: format of one known-statement line (``{statement}``).
        option_line: format of one option line (``{k}`` 1-based, ``{statement}``).
        line_sep: separator between lines.
        answer_prefix: assistant text before the option label (the answer slot).
        answer_label: format of the option label read at the answer slot (``{k}``).
        response: format of the full answer (export).
        label_schemes: the label schemes the template accepts, in order of preference
            (comma/space separated names of :data:`LABEL_SCHEMES`).
        scheme: the scheme in use (set per tokenizer by :func:`ivr.data.tokenization.choose_label_scheme`).
    """

    name: str
    path: Path
    kind: str
    head: str
    middle: str
    tail: str
    statement_line: str = "# {statement}"
    option_line: str = "Option {k}: {statement}"
    line_sep: str = "\n"
    answer_prefix: str = "Option"
    answer_label: str = " {k}"
    response: str = "Option {k}: {statement}"
    label_schemes: str = "numbers, letters"
    scheme: str = "numbers"

    def schemes(self) -> list[str]:
        """The accepted label schemes, in order of preference."""
        return [x for x in re.split(r"[,\s]+", self.label_schemes) if x]

    def label(self, k: int) -> str:
        """The label of option ``k`` (1-based) in this layout's scheme."""
        return option_label(self.scheme, k)

    def known_block(self, statements: list[str]) -> str:
        return self.line_sep.join(self.statement_line.format(statement=s) for s in statements)

    def option_text(self, k: int, statement: str) -> str:
        """Option line ``k`` (1-based)."""
        return self.option_line.format(k=self.label(k), statement=statement)

    def options_block(self, statements: list[str]) -> str:
        return self.line_sep.join(self.option_text(k + 1, s) for k, s in enumerate(statements))

    def response_text(self, k: int, statement: str) -> str:
        """The full answer naming option ``k`` (1-based)."""
        return self.response.format(k=self.label(k), statement=statement)

    def render(self, known: list[str], options: list[str]) -> str:
        """The user text for one probe (the fixed pieces around the two blocks)."""
        return self.head + self.known_block(known) + self.middle + self.options_block(options) + self.tail


def option_label(scheme: str, k: int) -> str:
    """Label of option ``k`` (1-based): ``numbers`` -> ``"k"``, ``letters`` -> ``"A"``, ``"B"``, ...

    Raises:
        PromptError: an unknown scheme, or more options than the scheme has labels.
    """
    if scheme == "numbers":
        return str(k)
    if scheme == "letters":
        if not 1 <= k <= len(_LETTERS):
            raise PromptError(f"label scheme 'letters' has {len(_LETTERS)} labels; option {k} has none")
        return _LETTERS[k - 1]
    raise PromptError(f"unknown label scheme {scheme!r}; use one of {LABEL_SCHEMES}")


def scheme_size(scheme: str) -> int | None:
    """How many labels a scheme has (None = unbounded)."""
    return len(_LETTERS) if scheme == "letters" else None


def load_layout(name_or_path: str | Path) -> PromptLayout:
    """Load and check a layout template.

    Args:
        name_or_path: ``"choice"``, ``"statement"`` or a path to a ``.jinja`` file.

    Returns:
        The :class:`PromptLayout`.

    Raises:
        PromptError: missing file, syntax error, missing slot, a slot used more than once or inside
            a loop, ``options`` before ``known_statements``, or an unknown ``kind``.
    """
    path = template_path(name_or_path)
    template, settings = _load_template(path, LAYOUT_SLOTS)
    marks = {s: _SENTINEL.format(s.upper()) for s in LAYOUT_SLOTS}
    try:
        text = template.render(**marks)
    except jinja2.UndefinedError as err:
        raise PromptError(
            f"{path}: template uses an undefined variable ({err.message}); slots are {LAYOUT_SLOTS}"
        ) from err
    for slot, mark in marks.items():
        if text.count(mark) != 1:
            raise PromptError(f"{path}: slot {{{{ {slot} }}}} must appear exactly once (found {text.count(mark)})")
    head, rest = text.split(marks["known_statements"])
    if marks["options"] not in rest:
        raise PromptError(f"{path}: slot {{{{ options }}}} must come after {{{{ known_statements }}}}")
    middle, tail = rest.split(marks["options"])
    kind = settings.get("kind", "text")
    if kind not in LAYOUT_KINDS:
        raise PromptError(f"{path}: unknown kind {kind!r}; expected one of {LAYOUT_KINDS}")
    fixed = ("name", "path", "kind", "head", "middle", "tail", "scheme")
    known = {f for f in PromptLayout.__dataclass_fields__ if f not in fixed}
    layout = PromptLayout(
        name=path.stem,
        path=path,
        kind=kind,
        head=head,
        middle=middle,
        tail=tail,
        **{k: str(v) for k, v in settings.items() if k in known},
    )
    if kind == "text":
        bad = [x for x in layout.schemes() if x not in LABEL_SCHEMES]
        if bad or not layout.schemes():
            raise PromptError(f"{path}: label_schemes={layout.label_schemes!r}: use names from {LABEL_SCHEMES}")
        if (layout.answer_prefix + layout.answer_label).count("{k}") != 1:
            raise PromptError(
                f"{path}: answer_prefix + answer_label must contain {{k}} exactly once "
                f"(got {layout.answer_prefix!r} + {layout.answer_label!r})"
            )
        layout = replace(layout, scheme=layout.schemes()[0])
    return layout


def format_statement(statement: str) -> str:
    """A statement as written in prompts: first character upper-cased (as the study did)."""
    return statement[:1].upper() + statement[1:]


def chat_templates_dir() -> Path:
    """Folder of the built-in chat templates (``<prompts dir>/chat``)."""
    return prompts_dir() / "chat"


def chat_template_path(name_or_path: str | Path) -> Path:
    """Resolve a built-in chat template name (e.g. ``llama3.1``) or a ``.jinja`` file path.

    Raises:
        PromptError: neither a built-in name nor an existing file.
    """
    builtin = chat_templates_dir() / f"{name_or_path}.jinja"
    if builtin.is_file():
        return builtin
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise PromptError(
        f"chat template {str(name_or_path)!r} not found: give a .jinja file or one of "
        f"{sorted(p.stem for p in chat_templates_dir().glob('*.jinja'))} (looked in {chat_templates_dir()})"
    )


def set_chat_template(tokenizer: Any, name_or_path: str | Path | None) -> Any:
    """Give ``tokenizer`` a chat template (built-in name or file); None leaves the tokenizer's own.

    The template is rendered by transformers (its sandboxed Jinja environment) and checked to place
    a user message exactly once.

    Returns:
        The same tokenizer.

    Raises:
        PromptError: the template is missing or does not render a user message.
    """
    if name_or_path is None:
        return tokenizer
    path = chat_template_path(name_or_path)
    tokenizer.chat_template = path.read_text(encoding="utf-8")
    try:
        chat_wrap(tokenizer)
    except PromptError as err:
        raise PromptError(f"chat template {path}: {err}") from err
    except Exception as err:  # noqa: BLE001 - any rendering failure of a user file
        raise PromptError(f"chat template {path} does not render a user message: {type(err).__name__}: {err}") from err
    return tokenizer


def chat_wrap(tokenizer: Any) -> tuple[str, str]:
    """Text before and after the user message, from the tokenizer's chat template.

    Returns ``(prefix, suffix)`` where suffix ends with the assistant turn's opening (the
    generation prompt). Without a chat template: ``(bos_token or "", PLAIN_ANSWER_SEPARATOR)``.
    """
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": _CHAT_SENTINEL}], add_generation_prompt=True, tokenize=False
        )
        if text.count(_CHAT_SENTINEL) != 1:
            raise PromptError("the tokenizer's chat template does not place the user message exactly once")
        prefix, suffix = text.split(_CHAT_SENTINEL)
        return prefix, suffix
    return getattr(tokenizer, "bos_token", None) or "", PLAIN_ANSWER_SEPARATOR


def render_probe_json(known: list[str], groups: list[list[str]], template: str | Path = "probe_json") -> str:
    """The zero-shot prompt: every probe group of a person as JSON "new statement groups".

    Args:
        known: the person's known statements (already formatted, e.g. with :func:`format_statement`).
        groups: per probe question, its option statements in presentation order.
        template: template name or path with slots ``known_statements``, ``probe_groups``, ``answer_format``.

    Returns:
        The user message text.
    """
    path = template_path(template)
    tpl, settings = _load_template(path, PROBE_JSON_SLOTS)
    line = str(settings.get("statement_line", "# {statement}"))
    probe = {
        f"new statement group {i + 1} (NSG{i + 1})": [{f"NSG{i + 1}_s{j + 1}": s} for j, s in enumerate(g)]
        for i, g in enumerate(groups)
    }
    answer = {
        f"NSG{i + 1}": {"choice": f"NSG{i + 1}_s<number>", "rationale": "<one sentence>"} for i in range(len(groups))
    }
    return tpl.render(
        known_statements="\n".join(line.format(statement=s) for s in known),
        probe_groups=json.dumps(probe, indent=4, ensure_ascii=False),
        answer_format=json.dumps(answer, indent=4, ensure_ascii=False),
    )


_CHOICE_RE = re.compile(r"NSG(\d+)_s(\d+)")


def parse_probe_json(text: str, n_groups: int) -> list[int]:
    """Read a zero-shot JSON answer by group key (not by position).

    Args:
        text: the model's reply (code fences and a leading "Response:" are tolerated).
        n_groups: how many groups were asked.

    Returns:
        Per group the chosen option index (0-based), -1 where the group is missing or unreadable.
    """
    cleaned = text.replace("```json", "").replace("```", "").strip()
    start, end = cleaned.find("{"), cleaned.rfind("}")
    preds = [-1] * n_groups
    try:
        data = json.loads(cleaned[start : end + 1]) if start >= 0 else {}
    except json.JSONDecodeError:
        return preds
    if not isinstance(data, dict):
        return preds
    for key, value in data.items():
        group = re.search(r"NSG(\d+)", str(key))
        choice = value.get("choice") if isinstance(value, dict) else value
        match = _CHOICE_RE.search(str(choice))
        if group and match and int(match.group(1)) == int(group.group(1)) and 1 <= int(group.group(1)) <= n_groups:
            preds[int(group.group(1)) - 1] = int(match.group(2)) - 1
    return preds
