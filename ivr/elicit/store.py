"""Interview sessions in SQLite (standard library ``sqlite3``): every answer committed before the next question.

Tables (one database file per server, WAL journal so readers never wait on a writer):

* ``sessions`` -- one row per interview: its secret ``token`` (``secrets.token_urlsafe``), the probe
  setup, ``seq`` (answers recorded so far; the sequence number the next answer must carry), the
  ``pending`` question (chosen, not yet answered; NULL while none is chosen), ``status`` (open /
  finished), the stopping ``reason`` and the times;
* ``answers`` -- one row per answer, primary key (token, seq): the question, the option index (-1 =
  skip), the expected accuracy and the probe predictions after it (JSON).

:meth:`SessionStore.record` is the only writer of answers: in one ``BEGIN IMMEDIATE`` transaction it
checks that the session is open, that ``seq`` is the session's and the question is the pending one,
inserts the answer and advances ``seq`` -- so a replayed or concurrent answer (same ``seq``) finds
the sequence moved on and changes nothing. Nothing else writes answers, so nothing is half-written.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.errors import IvrError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY,
    setup INTEGER NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0,
    pending INTEGER,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'finished')),
    reason TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    token TEXT NOT NULL REFERENCES sessions(token),
    seq INTEGER NOT NULL,
    question INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    answer INTEGER NOT NULL,
    expected_accuracy REAL NOT NULL,
    predictions TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (token, seq)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SessionError(IvrError):
    """A request the session cannot take; ``status`` is its HTTP status (404 unknown, 409 conflict, ...)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class SessionRow:
    token: str
    setup: int
    seq: int
    pending: int | None
    status: str
    reason: str | None


@dataclass
class AnswerRow:
    seq: int
    question: int
    question_id: str
    answer: int
    expected_accuracy: float
    predictions: dict[str, list[float]]


class SessionStore:
    """The sessions database at ``path`` (created with its tables when new).

    Args:
        path: the SQLite file.
        fingerprint: what the interviews are about (catalog, predictor, probes, rule); a database made
            for another fingerprint is refused, so a restart never resumes interviews on other questions.
    """

    def __init__(self, path: str | Path, fingerprint: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            if fingerprint is not None:
                want = json.dumps(fingerprint, sort_keys=True)
                row = db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
                if row is None:
                    db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (want,))
                elif row[0] != want:
                    raise SessionError(
                        f"--db {self.path}: this database holds interviews of another set-up "
                        f"({row[0]}); use a new --db file for {want}"
                    )

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on any error."""
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ---- sessions --------------------------------------------------------------------------------
    def create(self, token: str, setup: int, cap: int) -> None:
        """A new open session, unless ``cap`` sessions are open already (503)."""
        now = time.time()
        with self.transaction() as db:
            n_open = db.execute("SELECT COUNT(*) FROM sessions WHERE status='open'").fetchone()[0]
            if n_open >= cap:
                raise SessionError(
                    f"{n_open} interviews are open, the server's limit (--max_open {cap}); "
                    "try again when one has finished",
                    503,
                )
            db.execute(
                "INSERT INTO sessions (token, setup, created, updated) VALUES (?, ?, ?, ?)", (token, setup, now, now)
            )

    def get(self, token: str) -> SessionRow:
        with self.connect() as db:
            row = db.execute(
                "SELECT token, setup, seq, pending, status, reason FROM sessions WHERE token=?", (token,)
            ).fetchone()
        if row is None:
            raise SessionError("unknown session: no interview has this token (start a new one)", 404)
        return SessionRow(*row)

    def answers(self, token: str) -> list[AnswerRow]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT seq, question, question_id, answer, expected_accuracy, predictions "
                "FROM answers WHERE token=? ORDER BY seq",
                (token,),
            ).fetchall()
        return [AnswerRow(s, q, qid, a, e, json.loads(p)) for s, q, qid, a, e, p in rows]

    def tokens(self, status: str | None = None) -> list[str]:
        with self.connect() as db:
            if status is None:
                rows = db.execute("SELECT token FROM sessions ORDER BY created, token").fetchall()
            else:
                rows = db.execute(
                    "SELECT token FROM sessions WHERE status=? ORDER BY created, token", (status,)
                ).fetchall()
        return [r[0] for r in rows]

    def set_pending(self, token: str, seq: int, question: int | None, reason: str | None) -> None:
        """After answer ``seq``: the next question, or (question None) the end of the interview."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE sessions SET pending=?, status=?, reason=?, updated=? "
                "WHERE token=? AND seq=? AND status='open'",
                (question, "open" if question is not None else "finished", reason, time.time(), token, seq),
            )
            if cur.rowcount != 1:
                raise SessionError("the interview moved on while its next question was chosen", 409)

    # ---- answers ---------------------------------------------------------------------------------
    def record(
        self,
        token: str,
        seq: int,
        question: int,
        question_id: str,
        answer: int,
        expected_accuracy: float,
        predictions: dict[str, list[float]],
    ) -> None:
        """Write answer number ``seq`` to the pending ``question`` (module doc: checked, all or nothing).

        Raises:
            SessionError: unknown session (404), finished session or a ``seq`` / question that is not
                the pending one: a replayed or concurrent answer (409).
        """
        with self.transaction() as db:
            row = db.execute("SELECT seq, pending, status FROM sessions WHERE token=?", (token,)).fetchone()
            if row is None:
                raise SessionError("unknown session: no interview has this token (start a new one)", 404)
            cur_seq, pending, status = row
            if status != "open":
                raise SessionError("this interview has finished; its answers can no longer change", 409)
            if seq != cur_seq or pending != question:
                raise SessionError(
                    f"answer number {seq} was not expected (the interview is at answer {cur_seq}): "
                    "it was replayed or sent twice; reload the question",
                    409,
                )
            db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (token, seq, question, question_id, answer, expected_accuracy, json.dumps(predictions), time.time()),
            )
            db.execute(
                "UPDATE sessions SET seq=?, pending=NULL, updated=? WHERE token=?", (seq + 1, time.time(), token)
            )

    def finish(self, token: str, reason: str) -> None:
        """End an open interview (the respondent stops); idempotent for a finished one."""
        with self.transaction() as db:
            db.execute(
                "UPDATE sessions SET status='finished', pending=NULL, reason=COALESCE(reason, ?), updated=? "
                "WHERE token=? AND status='open'",
                (reason, time.time(), token),
            )
