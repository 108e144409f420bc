"""The arguments of :class:`ivr.data.datamodule.IVRDataModule` (the ``--data.*`` section of ``ivr.fit``,
``ivr.evaluate`` and ``ivr.data export``): the keys every command shares (:class:`ivr.settings.ProtocolSettings`,
defined once there) and the Lightning pipeline's own (training units, prompts, packing, batches)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ivr.settings import Count, Count0, ProtocolSettings


@dataclass
class DataModuleSettings(ProtocolSettings):
    """The data module's arguments: the shared ``--data.*`` keys, then these.

    Attributes:
        tokenizer: ``"statement"`` (one token per statement, built from the codebook) or an HF tokenizer folder.
        layout: ``"auto"`` (``"statement"`` for the statement tokenizer, else ``"choice"``), a name or a .jinja
            path.
        n_per_question: training people (= examples) per target question (800, 1600, ...) or ``"all"``,
            split over the units by their shares, exactly.
        units: training units (:mod:`ivr.protocol.units`): the study's names (``p200_p1``, ``rmixed_r1``,
            ``demo_p1``), a mixture name (``p200_p1-r200_p1``) or mappings ``{demo_form, demo_count,
            probe_form, share}``. None = the shorthand keys below.
        demo_count: shorthand: demonstrations per training example, an integer string, ``"mixed"``
            (50..200), ``"rand"`` (100..200), ``"mixed+200"`` (half each) or ``"all"`` (every other valid
            answer); default the survey protocol's (``"200"`` for WVS-7, ``"all"`` for a small survey).
        probe_form: shorthand: training probe form ``"p"``, ``"r"`` or ``"p+r"`` (default).
        demo_form: shorthand: demonstration form ``"polar"``, ``"refined"`` or ``"p+r"`` (default: both), or
            ``"matched"`` (each probe form with demonstrations in its own form, as ``eval_forms: matched``).
        demographics: demographic statements: ``"none"``, ``"with"`` (before the demonstrations) or ``"only"``
            (instead of them, in every training and evaluation example).
        train_filter: training-person predicate, e.g. ``"continent=Europe"`` or ``"Q260=1;X003R!=1"``.
        max_seq_length: sequence budget; whole demonstration statements are dropped (and counted) to meet it.
        probes_per_sequence: training probes of one person sharing one prefix (1 = the study; -1 = all
            remaining).
        eval_forms: evaluation convention (:mod:`ivr.protocol.conventions`): ``"matched"`` (polar probes with
            polar demonstrations, refined with refined), ``"crossed"``, ``"polar"``, ``"refined"`` or ``"all"``
            (matched, then crossed: the four combinations, scored as two views).
        eval_demo_rule: ``"setup"`` (demonstrations exclude every probe of the setup, packed or not) or
            ``"probe"`` (the study's per-probe rule, only the probed question is left out; unpacked only).
        eval_packed: evaluation puts all probes of (person, setup, form) in one sequence.
        eval_pack_forms: with eval_packed, both probe forms of (person, setup) share one sequence (78 probes;
            needs ``eval_forms`` polar or refined).
        eval_demo_categories: evaluation demonstrations only from questions of these categories (None = all).
        option_order: ``"codebook"`` or ``"shuffle"`` (seeded per example, recorded in ``option_index``).
        batch_size: training sequences per batch.
        eval_batch_size: evaluation sequences per batch (default: batch_size).
        num_workers: DataLoader worker processes (results do not depend on it).
        check_tokenization: verify cached ids == tokenizing rendered text on a few examples at setup.
        score_layout: ``"label"`` (one answer position per probe, for ``model.score=choice``) or
            ``"option_text"`` (after each probe one sub-branch per option holding its whole answer, with
            ``option_spans``, for ``model.score=loglik_sum|loglik_mean|loglik_char``;
            :func:`ivr.model.loglik.check_score_layout`).
        chat_template: a chat template for an HF tokenizer folder that has none (or to replace its own): a
            built-in name (``llama3.1``) or a ``.jinja`` path; None keeps the tokenizer's own.
    """

    tokenizer: str = "statement"
    layout: str = "auto"
    n_per_question: int | str = 800
    units: str | list[str | dict[str, Any]] | None = None
    demo_count: str | None = None
    probe_form: str | None = None
    demo_form: str | None = None
    demographics: str = "none"
    train_filter: str | None = None
    max_seq_length: Count = 4096
    probes_per_sequence: int = 1
    eval_forms: str = "matched"
    eval_demo_rule: str = "setup"
    eval_packed: bool = True
    eval_pack_forms: bool = False
    eval_demo_categories: list[str] | None = None
    option_order: str = "codebook"
    batch_size: Count = 8
    eval_batch_size: Count | None = None
    num_workers: Count0 = 0
    check_tokenization: bool = True
    score_layout: str = "label"
    chat_template: str | None = None
