"""``python -m ivr.data describe --config C.yaml``: a run's training units and evaluation protocol in words.

Prints the unit table (demonstration form, count, probe form, share, examples per question and per
epoch) and the evaluation convention of a data configuration (flat, under ``data:``, or a LightningCLI
config). When the catalog can be opened the counts are exact (questions with fewer valid training
people than ``n_per_question`` get fewer examples); otherwise -- e.g. an 8B config whose WVS catalog
is not on this machine -- they are the nominal split of ``n_per_question`` over the built-in
codebook's questions, and the output says so.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from ivr.protocol.conventions import eval_views, view_label
from ivr.protocol.units import Unit, allocate, assign_units


def _span(values: np.ndarray) -> str:
    lo, hi = int(values.min()), int(values.max())
    return f"{hi:,}" if lo == hi else f"{lo:,}-{hi:,}"


def unit_table(units: tuple[Unit, ...], counts: np.ndarray) -> str:
    """The unit table: one line per unit and a total; ``counts`` int [Q, n_units] examples per question."""
    shares = np.array([u.share for u in units], dtype=np.float64)
    shares = shares / shares.sum()
    head = ("unit", "demonstrations", "probe", "share", "per question", "per epoch")
    lines = [
        [
            u.name,
            u.describe_demos(),
            u.probe_form,
            f"{100 * w:.1f}%",
            _span(counts[:, j]),
            f"{int(counts[:, j].sum()):,}",
        ]
        for j, (u, w) in enumerate(zip(units, shares))
    ]
    lines.append(["total", "", "", "100%", _span(counts.sum(axis=1)), f"{int(counts.sum()):,}"])
    widths = [max(len(r[i]) for r in [list(head), *lines]) for i in range(len(head))]
    right = {3, 4, 5}

    def fmt(row: list[str] | tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return "\n".join(
        [
            fmt(head),
            "  ".join("-" * w for w in widths),
            *[fmt(r) for r in lines[:-1]],
            "  ".join("-" * w for w in widths),
            fmt(lines[-1]),
        ]
    )


def describe_datamodule(dm: Any, source: str = "") -> str:
    """The description of an :class:`ivr.data.datamodule.IVRDataModule` (its catalog opened if possible)."""
    hp = dm.hparams
    n = None if str(hp.n_per_question) == "all" else int(hp.n_per_question)
    try:
        dm.setup_people()
    except (FileNotFoundError, OSError) as err:
        exact, reason = False, str(err).splitlines()[0]
    else:
        exact, reason = True, ""
    if exact:
        counts = np.stack([np.bincount(u, minlength=len(dm.units)) for u in assign_units(dm.people, dm.units, hp.seed)])
        n_q = counts.shape[0]
        where = f"catalog {hp.catalog}: {len(dm.split.train_rows):,} training people"
    else:
        from ivr.catalog.codebook import load_codebook

        if n is None:
            raise FileNotFoundError(f"n_per_question: all needs the catalog to count people ({reason})")
        n_q = len(load_codebook("wvs7").questions)
        counts = np.tile(allocate(n, [u.share for u in dm.units]), (n_q, 1))
        where = (
            f"catalog {hp.catalog} not opened ({reason}); nominal counts for the {n_q} questions of the "
            "built-in WVS-7 codebook, every question assumed to have enough valid training people"
        )
    wrap = lambda text: textwrap.fill(text, width=110, subsequent_indent="  ")  # noqa: E731
    out = [
        wrap(
            f"Training recipe{f' ({source})' if source else ''}: n_per_question = {hp.n_per_question} "
            f"examples per question, split over {len(dm.units)} unit(s) by share, exactly; {where}."
        ),
        "",
        unit_table(dm.units, counts),
        "",
    ]
    demo = {"none": "none", "with": "before the demonstrations", "only": "instead of demonstrations"}
    pps = {1: "1 (the study's layout)", -1: "every valid non-demonstration question"}.get(
        hp.probes_per_sequence, str(hp.probes_per_sequence)
    )
    out.append(
        wrap(
            f"Demographic statements: {demo[hp.demographics]}. Probes per training sequence: {pps}. "
            "People keep their unit; their demonstrations (and mixed counts) are redrawn every epoch."
        )
    )
    layout = "packed (all probes of a setup after one prefix)" if hp.eval_packed else "one probe per sequence"
    rule = (
        "outside every probe of the setup"
        if hp.eval_demo_rule == "setup"
        else "outside the probed question only (the study's per-probe rule)"
    )
    views = eval_views(hp.eval_forms)
    if exact:
        people = f"{len(dm.split.test_rows):,} test + {len(dm.split.val_rows):,} validation people"
    elif hp.split_size is not None:
        people = f"{(hp.split_size + 1) // 2:,} test + {hp.split_size // 2:,} validation people"
    else:
        people = "the protocol's test and validation people"
    if hp.limit_eval_people is not None:
        people += f" (the first {hp.limit_eval_people} of each)"
    n_setups = len(dm.setups) if exact else 3
    demos = dm.eval_demo_label() if exact else (hp.eval_demo_count or "the protocol's")
    out.append(
        wrap(
            f"Evaluation: {people} x {n_setups} setups x both probe forms; {demos} demonstrations "
            f"per person and setup, drawn {rule}; {layout}; eval_forms={hp.eval_forms}:"
        )
    )
    out += [f"  [{v}] {view_label(v)}" for v in views]
    if hp.score_layout == "option_text":
        out.append(
            wrap(
                "Scoring layout: option_text, every option's whole answer in its own sub-branch after its "
                "probe (for model.score loglik_sum / loglik_mean / loglik_char)."
            )
        )
    return "\n".join(out)


def describe(config: str | Path, catalog: str | None = None) -> str:
    """Describe the data configuration in ``config`` (optionally with another ``catalog``).

    Args:
        config: YAML with IVRDataModule arguments (flat, ``data:``, or LightningCLI ``data: {init_args}``).
        catalog: a catalog folder or ``synthetic:...`` spec replacing the config's.

    Raises:
        FileNotFoundError: the config does not exist.
        ValueError: a bad unit or setting (the message names it).
    """
    from ivr.data.datamodule import IVRDataModule
    from ivr.data.export import load_datamodule_config

    data = load_datamodule_config(config)
    if catalog is not None:
        data["catalog"] = catalog
    return describe_datamodule(IVRDataModule(**data), str(config))
