"""Hostile inputs of ``python -m ivr.elicit serve`` / ``export`` (issue 26): one ``error:`` line, exit 2, nothing written."""

from __future__ import annotations

import sqlite3

import pytest

from ivr.cli import run
from ivr.elicit.__main__ import main


def listing(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*"))


def fails(capsys, argv, words, root):
    before = listing(root)
    assert run(main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and err[-1].startswith("error: ") and words in err[-1], err
    assert listing(root) == before  # nothing written, nothing changed


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_serve_refuses_a_users_file_as_database(capsys, here):
    notes = here / "notes.sqlite"
    notes.write_text("my own notes, not a database\n")
    fails(capsys, ["serve", "--bayes", "--db", str(notes)], "is not an interview database", here)
    assert notes.read_text() == "my own notes, not a database\n"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["serve", "--bayes", "--target", "1.5"], "stopping rule target 1.5"),
        (["serve", "--bayes", "--min_gain", "-1"], "stopping rule min_gain"),
        (["serve", "--bayes", "--max_questions", "-2"], "stopping rule max_questions"),
        (["serve", "--bayes", "--port", "70000"], "--port 70000"),
        (["serve", "--bayes", "--max_open", "0"], "--max_open 0"),
        (["serve", "--bayes", "--ckpt_path", "x.ckpt"], "exactly one of --bayes"),
        (["serve"], "exactly one of --bayes"),
        (["serve", "--bayes", "--policy", "smart"], "--policy 'smart'"),
        (["export", "--db", "missing.sqlite"], "--db missing.sqlite: no such file"),
        (["export", "--status", "some"], "--status 'some'"),
    ],
)
def test_serve_and_export_flags(capsys, here, argv, words):
    fails(capsys, argv, words, here)


def test_serve_refuses_a_database_of_another_setup(capsys, here, small_catalog_dir):
    from ivr.elicit.store import SessionStore

    db = here / "s.sqlite"
    SessionStore(db, {"catalog": "elsewhere", "model": "bayes"})
    fails(
        capsys,
        ["serve", "--bayes", "--data.catalog", str(small_catalog_dir), "--db", str(db)],
        "holds interviews of another set-up",
        here,
    )


def test_export_refuses_a_non_database_and_a_users_folder(capsys, here):
    from ivr.elicit.store import SessionStore

    (here / "table.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 84)
    fails(capsys, ["export", "--db", "table.sqlite"], "not an interview database", here)
    con = sqlite3.connect(here / "other.sqlite")
    con.execute("CREATE TABLE t (x)")
    con.close()
    fails(capsys, ["export", "--db", "other.sqlite"], "not an interview database", here)
    SessionStore(here / "s.sqlite", {"catalog": str(here), "setup": 0})
    (here / "mine").mkdir()
    (here / "mine" / "thesis.txt").write_text("mine")
    fails(capsys, ["export", "--db", "s.sqlite", "--out", "mine"], "mine", here)


def test_pages_escape_every_statement():
    """Statements come from a codebook a user wrote: the templates must escape them (autoescape on)."""
    from ivr.elicit.serve import templates

    html = (
        templates()
        .get_template("question.html")
        .render(
            v={
                "max_questions": 5,
                "asked": 0,
                "answered": 0,
                "expected_accuracy": 0.5,
                "target": None,
                "seq": 0,
                "token": 't"><script>x</script>',
            },
            q={"number": 1, "category": "<b>c</b>", "options": ["<script>alert(1)</script>", "a & b"]},
        )
    )
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;c&lt;/b&gt;" in html and "a &amp; b" in html
