"""Run the tutorials' shell blocks as CI does: parse the Markdown, apply each block's test directive, run.

A tutorial page (``docs/tutorials/*.md``) shows its commands in fenced ``bash`` blocks. Each block is
followed by an HTML comment, invisible on the site, that says how the test runs it (CONTRIBUTING.md,
"Tutorial blocks")::

    <!-- test: run
    quick ivr.fit: --trainer.max_steps 2 --bootstrap 0
    replace: --people 2800 => --people 400
    file WVS_Cross-National_Wave_7_csv_v5_0.csv: wvs7-shaped 400
    creates: runs/my_evaluate/table.json
    -->

    <!-- test: not-run, needs a GPU node
    check: --print_config
    -->

``run`` runs the block's commands in order at the quick sizes; ``not-run, REASON`` runs every ``python -m``
command of the block (``torchrun ... -m`` included) with ``check`` appended instead (default
``--print_config``), so its flags must still parse; other commands of a not-run block are shown only.

``python -m MODULE`` and ``python -c CODE`` commands run inside this process (``runpy``), so one page pays
for importing torch once; anything else runs under bash. Run as ``python tests/tutorials.py PLAN.json`` in
the working folder; the plan is a list of commands from :func:`plan_page`.
"""

from __future__ import annotations

import glob
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BLOCK = re.compile(
    r"^```(?:bash|sh)[^\n]*\n(?P<body>.*?)^```[ \t]*\n(?:[ \t]*\n)*(?P<directive><!--\s*test\b.*?-->)?",
    re.MULTILINE | re.DOTALL,
)
KEYS = ("quick", "replace", "file", "creates", "check")
GENERATORS = ("wvs7-shaped",)


class DirectiveError(ValueError):
    """A tutorial block without a directive, or a directive the test cannot apply."""


@dataclass
class Block:
    """One fenced shell block of a page and its directive."""

    page: str
    line: int
    body: str
    mode: str = ""  # run | not-run
    reason: str = ""
    quick: dict[str, list[str]] = field(default_factory=dict)
    replace: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, list[str]] = field(default_factory=dict)
    creates: list[str] = field(default_factory=list)
    check: str = "--print_config"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class Command:
    """One command as the runner executes it."""

    where: str
    text: str  # what the page shows, after the directive's replacements
    argv: list[str]  # after the quick flags
    env: dict[str, str]
    kind: str  # module | code | shell
    files: dict[str, list[str]] = field(default_factory=dict)
    creates: list[str] = field(default_factory=list)


def parse_directive(block: Block, text: str) -> None:
    """Fill ``block`` from ``<!-- test: MODE ... -->``; a key the test does not know is an error."""
    inner = text[len("<!--") : -len("-->")].strip()[len("test") :].lstrip(": \t")
    lines = [ln.strip() for ln in inner.splitlines() if ln.strip()]
    if not lines:
        raise DirectiveError(f"{block.where}: empty test directive; start it with 'run' or 'not-run, REASON'")
    head = lines[0]
    if head == "run":
        block.mode = "run"
    elif head.startswith("not-run"):
        block.mode, block.reason = "not-run", head[len("not-run") :].lstrip(", ").strip()
        if not block.reason:
            raise DirectiveError(f"{block.where}: 'not-run' needs a reason: 'not-run, needs a GPU'")
    else:
        raise DirectiveError(f"{block.where}: a test directive starts with 'run' or 'not-run, REASON', not {head!r}")
    for ln in lines[1:]:
        key, sep, value = ln.partition(":")
        if not sep:
            raise DirectiveError(f"{block.where}: directive line {ln!r} is not 'key: value'")
        name, _, arg = key.strip().partition(" ")
        value = value.strip()
        if name not in KEYS:
            raise DirectiveError(f"{block.where}: unknown directive key {name!r} (known: {', '.join(KEYS)})")
        if name == "quick":
            if not arg:
                raise DirectiveError(f"{block.where}: 'quick' names its module: 'quick ivr.fit: --flags'")
            block.quick.setdefault(arg, []).extend(shlex.split(value))
        elif name == "replace":
            old, arrow, new = value.partition("=>")
            if not arrow or not old.strip():
                raise DirectiveError(f"{block.where}: 'replace' is 'OLD => NEW', got {value!r}")
            block.replace.append((old.strip(), new.strip()))
        elif name == "file":
            spec = value.split()
            if not arg or not spec or spec[0] not in GENERATORS:
                raise DirectiveError(f"{block.where}: 'file NAME: GENERATOR ARGS' with a generator of {GENERATORS}")
            block.files[arg] = spec
        elif name == "creates":
            block.creates.extend(value.split())
        elif name == "check":
            block.check = value


def parse_page(path: Path, root: Path | None = None) -> list[Block]:
    """Every fenced bash block of a Markdown page with its directive (blocks without one have mode '')."""
    text = path.read_text()
    page = str(path.relative_to(root)) if root else str(path)
    blocks = []
    for m in BLOCK.finditer(text):
        block = Block(page=page, line=text.count("\n", 0, m.start()) + 1, body=m.group("body"))
        if m.group("directive"):
            parse_directive(block, m.group("directive"))
        blocks.append(block)
    return blocks


def split_commands(body: str) -> list[str]:
    """Shell commands of a block: comment lines dropped, backslash continuations joined."""
    out, cur = [], ""
    for raw in body.splitlines():
        line = raw.rstrip()
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append((cur + line).strip())
        cur = ""
    if cur.strip():
        out.append(cur.strip())
    return out


def strip_comment(words: list[str]) -> list[str]:
    """Drop a trailing ``# comment`` (shlex keeps it as words)."""
    for i, w in enumerate(words):
        if w.startswith("#"):
            return words[:i]
    return words


def to_command(block: Block, text: str) -> Command | None:
    """The command as the runner executes it, or None for a not-run block's shell command (shown only)."""
    words = strip_comment(shlex.split(text, posix=True))
    env = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if words and words[0] == "torchrun" and block.mode == "not-run" and "-m" in words:
        words = ["python", *words[words.index("-m") :]]  # its flags are the module's; torchrun's own are shown
    if len(words) >= 3 and words[0] in ("python", "python3") and words[1] == "-m":
        module, args = words[2], words[3:]
        for name, flags in block.quick.items():
            if module == name or (" " in name and [module, *args[:1]] == name.split()):
                args = [*args, *flags]
        if block.mode == "not-run":
            args = [*args, *shlex.split(block.check)]
        return Command(block.where, text, [module, *args], env, "module")
    if block.mode == "not-run":
        return None
    if len(words) == 3 and words[0] in ("python", "python3") and words[1] == "-c":
        return Command(block.where, text, [words[2]], env, "code")
    return Command(block.where, text, ["bash", "-c", text], env, "shell")


def plan_page(blocks: list[Block]) -> list[Command]:
    """The commands a page's test runs, in page order, with fixtures and expected files on the first/last."""
    plan: list[Command] = []
    for block in blocks:
        if not block.mode:
            raise DirectiveError(
                f"{block.where}: tutorial block without a test directive; follow it with "
                "'<!-- test: run -->' or '<!-- test: not-run, REASON -->' (CONTRIBUTING.md, 'Tutorial blocks')"
            )
        body = block.body
        for old, new in block.replace:
            if old not in body:
                raise DirectiveError(f"{block.where}: 'replace: {old} => ...' but the block has no {old!r}")
            body = body.replace(old, new)
        commands = [c for c in (to_command(block, t) for t in split_commands(body)) if c is not None]
        seen = {c.argv[0] for c in commands if c.kind == "module"} | {
            " ".join(c.argv[:2]) for c in commands if c.kind == "module"
        }
        for name in block.quick:
            if name not in seen:
                raise DirectiveError(f"{block.where}: 'quick {name}:' but the block runs no python -m {name}")
        if commands:
            commands[0].files = block.files
            commands[-1].creates = block.creates
        elif block.files or block.creates:
            raise DirectiveError(f"{block.where}: 'file'/'creates' on a block with nothing to run")
        plan.extend(commands)
    return plan


def write_fixture(name: str, spec: list[str]) -> None:
    """Write a generated stand-in file the tutorial's commands read (e.g. a WVS-shaped survey file)."""
    if spec[0] == "wvs7-shaped":
        from benchmarks.convert import survey_frame, write_survey  # the conversion benchmark's generator
        from ivr.catalog.codebook import load_codebook

        rows = int(spec[1]) if len(spec) > 1 else 400
        # every answer present: random answers, so every person is eligible under the study's 239-answer rule
        write_survey(survey_frame(load_codebook("wvs7"), rows, seed=0, missing=0.0), Path(name))


def expand(args: list[str]) -> list[str]:
    """Shell-style glob expansion of arguments (``checkpoints/tiny/best-*.ckpt``)."""
    out = []
    for a in args:
        hits = sorted(glob.glob(a)) if any(ch in a for ch in "*?[") and not a.startswith("[") else []
        out.extend(hits or [a])
    return out


def run_command(cmd: Command) -> int:
    """Run one command in this process (python -m / -c) or under bash; return its exit status."""
    saved_env, saved_argv = dict(os.environ), sys.argv
    os.environ.update(cmd.env)
    try:
        if cmd.kind == "shell":
            return subprocess.run(cmd.argv, check=False, env=os.environ.copy()).returncode
        try:
            if cmd.kind == "code":
                sys.argv = ["-c"]
                exec(compile(cmd.argv[0], "<tutorial>", "exec"), {"__name__": "__main__"})  # noqa: S102 (the page's python -c)
            else:
                sys.argv = [cmd.argv[0], *expand(cmd.argv[1:])]
                runpy.run_module(cmd.argv[0], run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return 0
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv


def main(plan_file: str) -> int:
    """Run a plan (JSON list of commands) in the current folder; stop at the first failure."""
    plan = [Command(**c) for c in json.loads(Path(plan_file).read_text())]
    for cmd in plan:
        for name, spec in cmd.files.items():
            write_fixture(name, spec)
        shown = cmd.text if cmd.kind != "module" else "python -m " + shlex.join(cmd.argv)
        print(f"\n$ {shown}    [{cmd.where}]", flush=True)
        t0 = time.process_time()
        code = run_command(cmd)
        print(f"[tutorial] exit {code}, {time.process_time() - t0:.1f} CPU-s in this process", flush=True)
        if code != 0:
            print(f"TUTORIAL FAILED at {cmd.where}: exit {code}: {shown}", file=sys.stderr, flush=True)
            return 1
        missing = [p for p in cmd.creates if not glob.glob(p)]
        if missing:
            print(f"TUTORIAL FAILED at {cmd.where}: expected {missing} after: {shown}", file=sys.stderr, flush=True)
            return 1
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    print(f"[tutorial] page done: {len(plan)} commands, {cpu:.1f} CPU-s", flush=True)
    return 0


def dump_plan(plan: list[Command], path: Path) -> Path:
    """Write a plan for :func:`main`."""
    path.write_text(json.dumps([asdict(c) for c in plan]))
    return path


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
