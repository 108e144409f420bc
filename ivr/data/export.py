"""Export sampled examples as chat-format JSONL (``messages``) for open-instruct / TRL users.

One line per probe (the study's one-probe-per-prompt format): the user message is the rendered
text layout (``choice.jinja`` by default), the assistant message the correct option
(``response`` format of the template), plus fields identifying the example.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ivr.data.datamodule import IVRDataModule
from ivr.data.examples import FORMS, Example
from ivr.data.prompts import PromptLayout, format_statement, load_layout
from ivr.errors import ConfigError, InputNotFoundError
from ivr.progress import progress as progress_iter


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


def example_records(ex: Example, layout: PromptLayout, dm: IVRDataModule) -> list[dict[str, Any]]:
    """The chat records (one per probe) of an example."""
    cb = dm.codebook
    known = [format_statement(cb.demographics[j].statement(c) or "")
             for j, c in zip(ex.demographics.tolist(), ex.demographic_codes.tolist())]
    known += [format_statement(cb.questions[q].options(FORMS[ex.demo_form])[o].statement)
              for q, o in zip(ex.demo_questions.tolist(), ex.demo_options.tolist())]
    out = []
    for k, (q, form) in enumerate(zip(ex.probe_questions.tolist(), ex.probe_forms.tolist())):
        if ex.labels[k] < 0:
            continue
        options = cb.questions[q].options(FORMS[form])
        order = ex.option_orders[k].tolist()
        texts = [format_statement(options[o].statement) for o in order]
        pos = order.index(int(ex.labels[k]))
        out.append({
            "messages": [
                {"role": "user", "content": layout.render(known, texts)},
                {"role": "assistant", "content": layout.response.format(k=pos + 1, statement=texts[pos])},
            ],
            "person_id": str(dm.catalog.person_ids[ex.row]), "setup": ex.setup, "question": cb.questions[q].id,
            "probe_form": FORMS[form], "demo_form": FORMS[ex.demo_form], "n_demos": int(len(ex.demo_questions)),
            "option_order": order,
        })
    return out


def export_jsonl(
    dm: IVRDataModule, out: str | Path, split: str = "train", epoch: int = 0, limit: int | None = None,
    layout: str = "choice", progress: bool = True,
) -> int:
    """Write a split's examples as JSONL atomically (temp file, then rename).

    Args:
        dm: a DataModule (``setup`` is called).
        out: destination ``.jsonl``.
        split: ``"train"`` (epoch ``epoch`` in sampler order), ``"val"`` or ``"test"``.
        limit: at most this many examples (sequences), None = all.
        layout: a text layout name or path.
        progress: a bar on a terminal, plain progress lines otherwise.

    Returns:
        Number of lines written.
    """
    text_layout = load_layout(layout)
    if text_layout.kind != "text":
        raise ConfigError(
            f"--layout {layout!r} is a {text_layout.kind} layout; export needs a text layout such as 'choice'")
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
    out.parent.mkdir(parents=True, exist_ok=True)
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
