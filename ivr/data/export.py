"""Export sampled examples as chat-format JSONL (``messages``) for open-instruct / TRL users.

One line per probe (the study's one-probe-per-prompt format): the user message is the rendered
text layout (``choice.jinja`` by default), the assistant message the correct option
(``response`` format of the template), plus fields identifying the example. The messages carry no
chat template (the training framework wraps them in its model's own), so ``--data.chat_template`` is
refused rather than silently ignored. Before writing, the size is estimated from a sample of the
examples and printed; an export above ``--max_size`` (default 2 GB) or above the free disk space is
refused before anything is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ivr.data.datamodule import IVRDataModule
from ivr.data.prompts import PromptLayout, format_statement, load_layout
from ivr.errors import ConfigError, InputNotFoundError
from ivr.progress import progress as progress_iter
from ivr.protocol.examples import FORMS, Example


def load_datamodule_config(path: str | Path) -> dict[str, Any]:
    """DataModule arguments from a YAML file: flat, under ``data:``, or LightningCLI ``data: {init_args: ...}``."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"--config {path}: no such file")
    cfg = yaml.safe_load(path.read_text()) or {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a mapping of IVRDataModule arguments")
    data = cfg.get("data", cfg)
    if isinstance(data, dict) and "init_args" in data:
        data = data["init_args"]
    return dict(data)


DEFAULT_MAX_SIZE = "2GB"
SAMPLE = 64  # examples rendered to estimate the size
_UNITS = {
    "": 1,
    "B": 1,
    "K": 10**3,
    "KB": 10**3,
    "M": 10**6,
    "MB": 10**6,
    "G": 10**9,
    "GB": 10**9,
    "T": 10**12,
    "TB": 10**12,
}


def parse_size(text: str | int, flag: str = "--max_size") -> int:
    """Bytes of a size such as ``2GB``, ``500MB``, ``1.5G`` or ``1000000``.

    Raises:
        ConfigError: not a size (names ``flag`` and the form).
    """
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?B?)\s*", str(text), flags=re.IGNORECASE)
    if not found or float(found.group(1)) <= 0:
        raise ConfigError(f"{flag} {text!r}: use a size > 0 such as 500MB, 2GB or 1.5TB")
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


def human_size(n: float) -> str:
    """``6.8 GB``, ``12.0 MB`` (decimal units)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_chat_template(data: dict[str, Any]) -> None:
    """The export writes template-free messages: a chat template would be ignored, so it is refused.

    Raises:
        ConfigError: ``--data.chat_template`` is set.
    """
    if data.get("chat_template") is not None:
        raise ConfigError(
            f"--data.chat_template {data['chat_template']!r}: ivr.data export writes chat messages (role, content) "
            "without a template; the training framework applies its model's own. Drop the flag (or set "
            "--data.chat_template null when the config sets it)"
        )


def estimate_size(order: list[int], get: Any, layout: PromptLayout, dm: IVRDataModule) -> tuple[float, int]:
    """(estimated bytes, examples rendered) of the export, from up to :data:`SAMPLE` evenly spread examples."""
    if not order:
        return 0.0, 0
    step = max(1, len(order) // SAMPLE)
    sample = order[::step][:SAMPLE]
    size = sum(
        len((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
        for i in sample
        for rec in example_records(get(i), layout, dm)
    )
    return size / len(sample) * len(order), len(sample)


def example_records(ex: Example, layout: PromptLayout, dm: IVRDataModule) -> list[dict[str, Any]]:
    """The chat records (one per probe) of an example."""
    cb = dm.codebook
    known = [
        format_statement(cb.demographics[j].statement(c) or "")
        for j, c in zip(ex.demographics.tolist(), ex.demographic_codes.tolist())
    ]
    known += [
        format_statement(cb.questions[q].options(FORMS[ex.demo_form])[o].statement)
        for q, o in zip(ex.demo_questions.tolist(), ex.demo_options.tolist())
    ]
    out = []
    for k, (q, form) in enumerate(zip(ex.probe_questions.tolist(), ex.probe_forms.tolist())):
        if ex.labels[k] < 0:
            continue
        options = cb.questions[q].options(FORMS[form])
        order = ex.option_orders[k].tolist()
        texts = [format_statement(options[o].statement) for o in order]
        pos = order.index(int(ex.labels[k]))
        out.append(
            {
                "messages": [
                    {"role": "user", "content": layout.render(known, texts)},
                    {"role": "assistant", "content": layout.response.format(k=pos + 1, statement=texts[pos])},
                ],
                "person_id": str(dm.catalog.person_ids[ex.row]),
                "setup": ex.setup,
                "question": cb.questions[q].id,
                "probe_form": FORMS[form],
                "demo_form": FORMS[ex.demo_form],
                "n_demos": int(len(ex.demo_questions)),
                "option_order": order,
            }
        )
    return out


def export_jsonl(
    dm: IVRDataModule,
    out: str | Path,
    split: str = "train",
    epoch: int = 0,
    limit: int | None = None,
    layout: str = "choice",
    progress: bool = True,
    max_size: str | int = DEFAULT_MAX_SIZE,
) -> int:
    """Write a split's examples as JSONL atomically (temp file, then rename).

    Args:
        dm: a DataModule (``setup`` is called).
        out: destination ``.jsonl``.
        split: ``"train"`` (epoch ``epoch`` in sampler order), ``"val"`` or ``"test"``.
        limit: at most this many examples (sequences), None = all.
        layout: a text layout name or path.
        progress: a bar on a terminal, plain progress lines otherwise.
        max_size: the largest export written without asking (``--max_size``); the estimate is printed first.

    Returns:
        Number of lines written.

    Raises:
        ConfigError: a chat template, a bad split or layout, or an estimated size above ``max_size`` or
            the free disk space (nothing is written).
    """
    check_chat_template(dict(dm.hparams))
    limit_bytes = parse_size(max_size)
    text_layout = load_layout(layout)
    if text_layout.kind != "text":
        raise ConfigError(
            f"--layout {layout!r} is a {text_layout.kind} layout; export needs a text layout such as 'choice'"
        )
    dm.setup("fit")
    if split == "train":
        ds, order = dm._train, dm.sampler.order(epoch).tolist()
        get = lambda i: ds.example(epoch, i)  # noqa: E731
    elif split in ("val", "test"):
        ds = dm._val if split == "val" else dm._test
        order, get = list(range(len(ds))), ds.example
    else:
        raise ConfigError(f"--split {split!r}: use train, val or test")
    order = order[:limit] if limit is not None else order
    out = Path(out)
    estimate, sampled = estimate_size(order, get, text_layout, dm)
    print(
        f"[ivr] data export: {len(order)} {split} examples, about {human_size(estimate)} (estimated from {sampled})",
        file=sys.stderr,
    )
    if estimate > limit_bytes:
        raise ConfigError(
            f"--max_size {max_size}: the export would be about {human_size(estimate)}; pass "
            f"--max_size {human_size(estimate * 1.2).replace(' ', '')} to write it, or shrink it with "
            "--limit N or --data.n_per_question"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out.parent).free
    if estimate > free:
        raise ConfigError(
            f"--out {out}: the export would be about {human_size(estimate)} but {out.parent} has "
            f"{human_size(free)} free; choose another --out or shrink it with --limit N"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for i in progress_iter(order, f"export {split}", unit="examples", enabled=progress):
                for rec in example_records(get(i), text_layout, dm):
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
