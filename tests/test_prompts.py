"""Prompt templates: built-in layouts, slot checks, the zero-shot JSON layout and its parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.data.prompts import (
    PromptError,
    chat_wrap,
    format_statement,
    load_layout,
    parse_probe_json,
    render_probe_json,
)


def test_choice_layout_renders_study_format() -> None:
    layout = load_layout("choice")
    assert layout.kind == "text"
    text = layout.render(["Family is important", "Work is not important"], ["I trust people", "I do not trust people"])
    lines = text.splitlines()
    assert "# Family is important" in lines and "# Work is not important" in lines
    assert "Option 1: I trust people" in lines and "Option 2: I do not trust people" in lines
    # known statements come before the options, and the pieces reproduce the rendered text
    assert text.index("# Family") < text.index("Option 1:")
    assert (
        text
        == layout.head
        + "# Family is important\n# Work is not important"
        + layout.middle
        + "Option 1: I trust people\nOption 2: I do not trust people"
        + layout.tail
    )
    assert layout.response.format(k=2, statement="x") == "Option 2: x"


def test_statement_layout() -> None:
    layout = load_layout("statement")
    assert layout.kind == "statement" and layout.answer_prefix == ""
    assert layout.render(["Q1=p0", "Q2=p1"], ["Q3?p"]) == "<bos> Q1=p0 Q2=p1 Q3?p"


def test_format_statement_capitalises_first_letter_only() -> None:
    assert format_statement("family is important to me") == "Family is important to me"
    assert format_statement("") == ""


@pytest.mark.parametrize(
    "body, message",
    [
        ("Known:\n{{ known_statements }}\nAnswer now.", "missing the required slot {{ options }}"),
        ("{{ options }}\nAnswer now.", "missing the required slot {{ known_statements }}"),
        ("{{ options }}\n{{ known_statements }}", "must come after"),
        ("{{ known_statements }}\n{{ options }}\n{{ options }}", "exactly once"),
        ("{{ known_statements }}\n{% for x in y %}{% endfor %}{{ options }}", "undefined variable"),
        ("{{ known_statements }\n{{ options }}", "syntax error"),
    ],
)
def test_bad_templates_name_file_and_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "mine.jinja"
    path.write_text(body)
    with pytest.raises(PromptError) as err:
        load_layout(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_unknown_template_name() -> None:
    with pytest.raises(PromptError, match="not found"):
        load_layout("no_such_layout")


def test_user_template_settings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "short.jinja"
    path.write_text(
        '{%- set option_line = "({k}) {statement}" -%}\nKnown:\n{{ known_statements }}\nPick:\n{{ options }}'
    )
    layout = load_layout(path)
    assert layout.render(["A"], ["x", "y"]) == "Known:\n# A\nPick:\n(1) x\n(2) y"


def test_probe_json_layout_and_parser_by_key() -> None:
    groups = [["I agree", "I disagree"], ["yes", "no", "maybe"], ["a", "b"]]
    text = render_probe_json(["# x"], groups)
    start = text.index("{")
    probe = json.JSONDecoder().raw_decode(text[start:])[0]
    assert list(probe) == [f"new statement group {i} (NSG{i})" for i in (1, 2, 3)]
    assert probe["new statement group 2 (NSG2)"][2] == {"NSG2_s3": "maybe"}
    assert '"rationale"' in text and '"choice"' in text
    # keys out of order are matched by group number, not by position; a missing group is -1
    reply = '```json\n{"NSG2": {"choice": "NSG2_s3", "rationale": "r"}, "NSG1": {"choice": "NSG1_s2"}}\n```'
    assert parse_probe_json(reply, 3) == [1, 2, -1]
    assert parse_probe_json("not json at all", 3) == [-1, -1, -1]
    # a choice naming another group's statement is not accepted
    assert parse_probe_json('{"NSG1": {"choice": "NSG2_s1"}}', 2) == [-1, -1]


def test_probe_json_template_missing_slot(tmp_path: Path) -> None:
    path = tmp_path / "zs.jinja"
    path.write_text("{{ known_statements }}\n{{ probe_groups }}")
    with pytest.raises(PromptError, match="answer_format"):
        render_probe_json(["a"], [["x", "y"]], template=path)


class _Plain:
    chat_template = None
    bos_token = "<s>"


def test_chat_wrap_without_template() -> None:
    assert chat_wrap(_Plain()) == ("<s>", "\n\n")


@pytest.mark.parametrize("name", ["choice", "statement"])
def test_layout_pieces_equal_jinja_rendering(name: str) -> None:
    """The cached-piece assembly reproduces what Jinja itself renders for the template."""
    from ivr.data.prompts import _load_template

    layout = load_layout(name)
    template, _ = _load_template(layout.path, ("known_statements", "options"))
    known, options = ["Alpha one", "Beta two", "Gamma"], ["first option", "second option", "third"]
    rendered = template.render(known_statements=layout.known_block(known), options=layout.options_block(options))
    assert layout.render(known, options) == rendered
