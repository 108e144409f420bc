"""``python -m ivr.elicit serve`` and ``python -m ivr.elicit export``: the web interview and its transcripts.

``serve (--bayes | --ckpt_path CKPT) [--db FILE] [--host 127.0.0.1] [--port 8000] [--max_open 200]
[--max_questions 20] [--target P] [--min_gain G]`` runs the app of :mod:`ivr.elicit.serve` under uvicorn,
sessions in ``--db`` (default ``runs/interviews.sqlite``; an existing file is used only when it is an
interview database of the same set-up, so a restart resumes every open interview). It listens on
127.0.0.1 unless ``--host`` says otherwise. ``export --db FILE [--out DIR] [--status all|open|finished]``
writes each interview's transcript in the terminal interview's ``transcript.json`` format
(``transcripts/0001.json`` ..., in the order the interviews started) and ``index.json``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ivr.cli import RUNS_ROOT, add_output_arguments, make_parser
from ivr.errors import ConfigError, InputNotFoundError
from ivr.settings import DataSettings

PROG = "python -m ivr.elicit"
DEFAULT_DB = f"{RUNS_ROOT}/interviews.sqlite"
SQLITE_MAGIC = b"SQLite format 3\x00"


def serve_parser() -> Any:
    p = make_parser(f"{PROG} serve", "Run adaptive interviews in a browser and as a JSON API.")
    p.add_argument(
        "--bayes",
        type=bool,
        default=False,
        nargs="?",
        const=True,
        help="predict with the synthetic catalog's exact posterior, ask by expected information gain",
    )
    p.add_argument("--ckpt_path", type=str | None, default=None, help="a trained reasoner's .ckpt")
    p.add_class_arguments(DataSettings, "data")
    p.add_argument("--policy", type=str, default="auto", help="auto, random, bayes-eig or reasoner")
    p.add_argument("--setup", type=int, default=0, help="probe setup: its probes are predicted, never asked")
    p.add_argument("--max_questions", type=int, default=20, help="questions asked at most (skips count)")
    p.add_argument(
        "--target",
        type=float | None,
        default=None,
        help="stop when the expected accuracy on the probes reaches this (0-1)",
    )
    p.add_argument(
        "--min_gain",
        type=float | None,
        default=None,
        help="stop when the next question's expected accuracy gain is below this",
    )
    p.add_argument("--db", type=str, default=DEFAULT_DB, help="the sessions database (SQLite file)")
    p.add_argument("--host", type=str, default="127.0.0.1", help="address to listen on (default loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port (0 = any free port, printed at start)")
    p.add_argument("--max_open", type=int, default=200, help="open interviews at most")
    p.add_argument("--top", type=int, default=3, help="options shown per probe on the result page")
    p.add_argument("--tokenizer", type=str, default="statement", help="the reasoner's tokenizer (with --ckpt_path)")
    p.add_argument("--max_seq_length", type=int, default=16384, help="sequence budget of the reasoner")
    return p


def export_parser() -> Any:
    p = make_parser(f"{PROG} export", "Write the transcripts of a served interview database.")
    p.add_argument("--db", type=str, default=DEFAULT_DB, help="the sessions database written by serve")
    p.add_argument("--status", type=str, default="all", help="all, open or finished interviews")
    add_output_arguments(p, f"{RUNS_ROOT}/interview_export", "transcripts folder")
    return p


def is_interview_db(path: Path) -> bool:
    """An SQLite file holding the interview tables (what serve writes)."""
    try:
        with path.open("rb") as f:
            if f.read(16) != SQLITE_MAGIC:
                return False
        db = sqlite3.connect(path)  # read only; a read-only handle would leave WAL side files behind
        try:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            db.close()
        return {"sessions", "answers", "meta"} <= names
    except (OSError, sqlite3.Error):
        return False


def serve_main(argv: list[str]) -> int:
    args = serve_parser().parse_args(argv)
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as err:
        raise ConfigError(
            f"{PROG} serve needs the serve extra ({err.name} is missing): "
            "pip install -e '.[serve]' (FastAPI and uvicorn)"
        ) from err
    from ivr.elicit.backend import load_backend
    from ivr.elicit.live import LiveInterviews
    from ivr.elicit.serve import create_app
    from ivr.elicit.stopping import StoppingRule
    from ivr.elicit.store import SessionStore
    from ivr.outputs import check_output_file

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: use a port 1..65535 (0 = any free port)")
    if args.max_open < 1:
        raise ConfigError(f"--max_open {args.max_open}: use a number of interviews >= 1")
    rule = StoppingRule(args.max_questions, args.target, args.min_gain)
    db = Path(args.db)
    check_output_file(db, is_interview_db, "an interview database", "--db")  # before loading any model
    backend = load_backend(
        args.bayes, args.ckpt_path, args.data, args.policy, args.setup, args.tokenizer, args.max_seq_length
    )
    db.parent.mkdir(parents=True, exist_ok=True)
    store = SessionStore(db, {**backend.fingerprint, "rule": rule.as_dict()})
    live = LiveInterviews(
        backend.codebook, backend.policy, backend.predict, backend.probes, backend.setup, rule, store, args.max_open
    )
    app = create_app(live, args.top)
    n_open = len(store.tokens("open"))
    config = uvicorn.Config(app, host=args.host, port=args.port, access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"[ivr] serving on {args.host}: reachable from other machines; put it behind HTTPS", file=sys.stderr)

    async def announce() -> None:  # the actual port once bound (--port 0)
        import asyncio

        while not server.started:
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else args.port
        print(
            f"[ivr] interview at http://{args.host}:{port}/ ({n_open} open interview(s) resumed from {db}; "
            f"API schema at /openapi.json)",
            file=sys.stderr,
            flush=True,
        )

    import asyncio

    async def both() -> None:
        task = asyncio.ensure_future(announce())
        await server.serve()
        task.cancel()

    asyncio.run(both())
    return 0


def export_main(argv: list[str]) -> int:
    args = export_parser().parse_args(argv)
    from ivr.catalog.resolve import open_catalog
    from ivr.elicit.live import transcript
    from ivr.elicit.store import SessionStore
    from ivr.outputs import OutputKind, check_output, register_kind, write_output
    from ivr.protocol.probes import probe_setups

    if args.status not in ("all", "open", "finished"):
        raise ConfigError(f"--status {args.status!r}: use all, open or finished")
    db = Path(args.db)
    if not db.is_file():
        raise InputNotFoundError(f"--db {db}: no such file; give the database that serve wrote (--db of serve)")
    kind = register_kind(OutputKind("interview_export", f"{PROG} export", ("index.json", "transcripts/*.json")))
    check_output(args.out, kind, bool(args.overwrite))
    if not is_interview_db(db):
        raise ConfigError(f"--db {db}: not an interview database written by {PROG} serve")
    store = SessionStore(db)
    with store.connect() as con:
        row = con.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
    if row is None:
        raise ConfigError(f"--db {db}: the database has no set-up record; was it written by {PROG} serve?")
    fingerprint = json.loads(row[0])
    catalog = open_catalog(fingerprint["catalog"])
    setup = int(fingerprint["setup"])
    probes = probe_setups(catalog.codebook, n_setups=setup + 1)[setup]
    tokens = store.tokens(None if args.status == "all" else args.status)
    docs = [transcript(catalog.codebook, store, t, probes) for t in tokens]

    def write(folder: Path) -> None:
        (folder / "transcripts").mkdir()
        index = []
        for n, doc in enumerate(docs, start=1):
            name = f"transcripts/{n:04d}.json"
            (folder / name).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            index.append({"file": name, "ended": doc["ended"], "reason": doc["reason"], "answers": len(doc["turns"])})
        (folder / "index.json").write_text(
            json.dumps({"database": str(db.resolve()), "setup": fingerprint, "interviews": index}, indent=1) + "\n",
            encoding="utf-8",
        )

    write_output(args.out, kind, write, bool(args.overwrite))
    print(f"[interview] {len(docs)} transcript(s) in {args.out}", file=sys.stderr)
    return 0
