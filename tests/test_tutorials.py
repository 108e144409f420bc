"""Every tutorial of the docs site runs: its Markdown blocks, at the quick sizes its test directives give.

The blocks are read from ``docs/tutorials/*.md`` (tests/tutorials.py: the directive convention); each page
runs in a fresh folder (``configs/`` linked in, synthetic catalogs in one shared cache), in one process
per page. A tutorial whose commands stop working, or whose directives no longer fit its commands, fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import tutorials  # noqa: E402 (the runner beside this file, found through the path set above)

PAGES = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
HOWTO = sorted((ROOT / "docs" / "how-to").glob("*.md"))


def test_tutorial_pages_found():
    names = {p.stem for p in PAGES}
    assert {"embedded-default", "own-survey", "wvs7", "zero-shot", "interview"} <= names, names


@pytest.mark.parametrize("page", PAGES + HOWTO, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_block_has_a_directive_that_fits(page):
    blocks = tutorials.parse_page(page, ROOT)
    assert blocks, f"{page.name}: no bash block"
    plan = tutorials.plan_page(blocks)  # raises DirectiveError naming the block
    if page in PAGES:  # a tutorial runs something; a how-to guide may only show (e.g. tensorboard)
        assert any(b.mode == "run" for b in blocks) and plan, f"{page.name}: nothing runs"


def test_directive_errors_name_the_block(tmp_path):
    page = tmp_path / "t.md"
    page.write_text("# t\n\n```bash\npython -m ivr.fit --config c.yaml\n```\n\ntext\n")
    with pytest.raises(tutorials.DirectiveError, match=r"t.md:3: tutorial block without a test directive"):
        tutorials.plan_page(tutorials.parse_page(page, tmp_path))
    page.write_text("```bash\npython -m ivr.fit --config c.yaml\n```\n<!-- test: run\nquick ivr.evaluate: --x 1\n-->\n")
    with pytest.raises(tutorials.DirectiveError, match="runs no python -m ivr.evaluate"):
        tutorials.plan_page(tutorials.parse_page(page, tmp_path))
    page.write_text(
        "```bash\npython -m ivr.fit --people 5\n```\n<!-- test: run\nreplace: --people 9 => --people 1\n-->\n"
    )
    with pytest.raises(tutorials.DirectiveError, match="has no '--people 9'"):
        tutorials.plan_page(tutorials.parse_page(page, tmp_path))


def test_plan_applies_quick_flags_replacements_and_checks(tmp_path):
    page = tmp_path / "t.md"
    page.write_text(
        "```bash\n# a comment\nOMP_NUM_THREADS=1 python -m ivr.fit --config c.yaml \\\n    --data.catalog a  # note\n"
        "python -m ivr.catalog build --people 2800\n```\n"
        "<!-- test: run\nquick ivr.fit: --trainer.max_steps 2\nreplace: 2800 => 300\n-->\n\n"
        "```bash\ntorchrun --nproc_per_node 8 -m ivr.fit --config g.yaml\nsbatch job.sh\n```\n"
        "<!-- test: not-run, needs a GPU node -->\n"
    )
    plan = tutorials.plan_page(tutorials.parse_page(page, tmp_path))
    assert [c.argv for c in plan] == [
        ["ivr.fit", "--config", "c.yaml", "--data.catalog", "a", "--trainer.max_steps", "2"],
        ["ivr.catalog", "build", "--people", "300"],
        ["ivr.fit", "--config", "g.yaml", "--print_config"],
    ]
    assert plan[0].env == {"OMP_NUM_THREADS": "1"}


def run_plan(plan: list, tmp_path: Path, tmp_path_factory) -> None:
    """Run a plan in a fresh folder (configs/ and tests/fixtures/ linked in), in one process."""
    work = tmp_path / "work"
    (work / "tests").mkdir(parents=True)
    (work / "configs").symlink_to(ROOT / "configs")
    (work / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures")
    plan_file = tutorials.dump_plan(plan, tmp_path / "plan.json")
    cache = tmp_path_factory.getbasetemp() / "tutorial_cache"  # synthetic catalogs shared by the pages
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "IVR_CACHE": str(cache),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "tutorials.py"), str(plan_file)],
        check=False,
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + "\n" + proc.stderr[-6000:]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_tutorial_runs(page, tmp_path, tmp_path_factory):
    run_plan(tutorials.plan_page(tutorials.parse_page(page, ROOT)), tmp_path, tmp_path_factory)


def test_how_to_commands_run_or_parse(tmp_path, tmp_path_factory):
    """The how-to guides' blocks with a directive: the runnable ones run, the GPU ones' flags parse (one process)."""
    plan = [c for page in HOWTO for c in tutorials.plan_page(tutorials.parse_page(page, ROOT))]
    assert len(plan) >= 8
    run_plan(plan, tmp_path, tmp_path_factory)
