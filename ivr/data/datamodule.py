"""``IVRDataModule``: the study's sampling recipes and fixed evaluation protocol as a LightningDataModule."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from ivr.catalog.codebook import PROTOCOL_KEYS
from ivr.catalog.resolve import default_cache_dir, open_catalog
from ivr.catalog.store import Catalog
from ivr.data.collate import Collator
from ivr.data.datasets import (
    EvalDataset,
    EvalShardSampler,
    PaddedEval,
    ResumableLoader,
    ResumableSampler,
    TrainDataset,
)
from ivr.data.prompts import load_layout, set_chat_template
from ivr.data.settings import DataModuleSettings
from ivr.data.statement_tokenizer import build_statement_tokenizer, is_statement_tokenizer, load_statement_tokenizer
from ivr.data.tokenization import TokenCache
from ivr.errors import ConfigError
from ivr.protocol.conventions import (
    DEMO_RULES,
    ConventionError,
    check_eval_forms,
    combinations,
    convention_header,
    eval_views,
)
from ivr.protocol.examples import FORMS, PersonTable, Recipe, train_people
from ivr.protocol.resolve import protocol_split
from ivr.protocol.selection import counts_for_survey, demo_questions, filter_rows, training_units
from ivr.protocol.units import Unit
from ivr.settings import init_doc, init_signature, plain

log = logging.getLogger(__name__)
SCORE_LAYOUTS = ("label", "option_text")


class IVRDataModule(L.LightningDataModule):
    """Samples training sequences on the fly and enumerates the fixed evaluation protocol.

    Its keyword arguments are the fields of :class:`ivr.data.settings.DataModuleSettings` (the ``--data.*``
    keys every command shares, :class:`ivr.settings.ProtocolSettings`, then the pipeline's own), with their
    types, defaults and count checks; ``self.settings`` holds them typed, ``self.hparams`` as plain values.
    """

    def __init__(self, **settings: Any) -> None:
        s = DataModuleSettings.from_value(settings)  # unknown keys and counts out of range: one ConfigError
        # not super(): its implicit __class__ cell makes Lightning read this signature's names from the locals
        L.LightningDataModule.__init__(self)
        self.settings = s
        self.save_hyperparameters(plain(s.to_dict()))  # parsed counts are int subclasses: checkpoints keep ints
        score_layout, n_per_question, eval_forms = s.score_layout, s.n_per_question, s.eval_forms
        eval_demo_rule, eval_packed, eval_pack_forms = s.eval_demo_rule, s.eval_packed, s.eval_pack_forms
        demographics, demo_count, eval_demo_count = s.demographics, s.demo_count, s.eval_demo_count
        option_order, probes_per_sequence, cache_dir = s.option_order, s.probes_per_sequence, s.cache_dir
        if score_layout not in SCORE_LAYOUTS:
            raise ConfigError(f"score_layout={score_layout!r} is not one of {SCORE_LAYOUTS}")
        if not (str(n_per_question) == "all" or str(n_per_question).isdigit()):
            raise ConfigError(f"n_per_question={n_per_question!r}: use a positive integer or 'all'")
        check_eval_forms(eval_forms, "data.eval_forms")
        if eval_demo_rule not in DEMO_RULES:
            raise ConventionError(f"data.eval_demo_rule={eval_demo_rule!r}: use one of {DEMO_RULES}")
        if eval_packed and eval_demo_rule == "probe":
            raise ConventionError(
                "data.eval_demo_rule='probe' leaves out only the probed question, so probes cannot "
                "share one prefix: set eval_packed: false, or use eval_demo_rule: setup"
            )
        if eval_packed and eval_pack_forms and eval_forms not in ("polar", "refined"):
            raise ConventionError(
                f"data.eval_pack_forms shows both probe forms after one prefix, which needs one "
                f"demonstration form: set eval_forms: polar or refined (not {eval_forms!r}), or "
                "eval_pack_forms: false"
            )
        if demographics not in ("none", "with", "only"):
            raise ConfigError(f"data.demographics={demographics!r} is not one of ('none', 'with', 'only')")
        # "all", "setup" and a count left to the protocol need the codebook: setup_people fills them in
        self.units = training_units(
            s.units, None if demo_count in ("all", "setup") else demo_count, s.probe_form, s.demo_form, demographics
        )
        self.recipe = Recipe(
            demographics=demographics,
            option_order=option_order,
            probes_per_sequence=probes_per_sequence,
            units=self.units,
        )
        # demonstration counts left to the protocol are filled in by setup_people (they need the codebook)
        self.eval_recipe = Recipe(
            "200" if eval_demo_count in (None, "all") else str(eval_demo_count),
            "p+r",
            "polar",
            demographics,
            option_order,
            1,
            demo_rule=eval_demo_rule,
        )
        self.eval_views = eval_views(eval_forms)
        self.eval_view = self.eval_views[0]
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.catalog: Catalog | None = None
        self.tokenizer: PreTrainedTokenizerFast | None = None
        self.tokenizer_dir: Path | None = None
        self._epoch, self._resume = 0, None
        self._train: TrainDataset | None = None
        self.people: list[np.ndarray] | None = None
        self._warn_untrained_combinations()

    __init__.__signature__ = init_signature(DataModuleSettings)  # type: ignore[attr-defined]
    __init__.__doc__ = init_doc(DataModuleSettings)

    def _warn_untrained_combinations(self) -> None:
        if self.hparams.demographics == "only":
            return
        trained = {(FORMS.index(u.demo_form), FORMS.index(u.probe_form)) for u in self.units if not u.demographics_only}
        missing = sorted(combinations(self.hparams.eval_forms) - trained)
        if missing and trained:
            pairs = ", ".join(f"{FORMS[p]} probes with {FORMS[d]} demonstrations" for d, p in missing)
            log.warning(
                "evaluation (eval_forms=%s) asks %s, which no training unit shows; add units such as "
                "%s or set eval_forms",
                self.hparams.eval_forms,
                pairs,
                ", ".join(Unit(FORMS[d], "200", FORMS[p]).name for d, p in missing),
            )

    # ---- setup -------------------------------------------------------------------------------
    @property
    def codebook(self):
        return self.catalog.codebook

    def load_tokenizer(self) -> PreTrainedTokenizerFast:
        """Load (building the statement tokenizer once if needed) and return the tokenizer."""
        if self.tokenizer is not None:
            return self.tokenizer
        if self.catalog is None:
            self.catalog = open_catalog(self.hparams.catalog, self.cache_dir)
        spec = self.hparams.tokenizer
        if spec == "statement":
            folder = self.cache_dir / "statement_tokenizer" / self.codebook.hash[:12]
            if not is_statement_tokenizer(folder):
                build_statement_tokenizer(self.codebook, folder)
            self.tokenizer = load_statement_tokenizer(folder, self.codebook)
        else:
            folder = Path(spec)
            self.tokenizer = (
                load_statement_tokenizer(folder, self.codebook)
                if is_statement_tokenizer(folder)
                else AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
            )
            if not hasattr(self.tokenizer, "backend_tokenizer"):
                raise ConfigError(f"tokenizer {spec!r}: a fast (Rust) tokenizer is required for cached tokenization")
            set_chat_template(self.tokenizer, self.hparams.chat_template)
        self.tokenizer_dir = folder
        return self.tokenizer

    def setup_people(self) -> None:
        """Catalog, split, setups, person table and the training people of every question (no tokenizer)."""
        if self.people is not None:
            return
        hp = self.hparams
        if self.catalog is None:
            self.catalog = open_catalog(hp.catalog, self.cache_dir)
        cat = self.catalog
        overrides = {k: hp.get(k) for k in PROTOCOL_KEYS}
        self.protocol, self.setups, self.split = protocol_split(cat, overrides, hp.seed, hp.split_ids_file)
        self._survey_counts(overrides)
        from ivr.protocol.describe import protocol_facts, protocol_warnings

        problems = [] if hp.split_ids_file else protocol_warnings(protocol_facts(cat, self.protocol))
        for problem in problems:
            log.warning("protocol: %s (python -m ivr.catalog protocol %s shows it)", problem, hp.catalog)
        if hp.units is None and hp.demo_count in (None, "all", "setup"):
            self.units = training_units(
                None, self.protocol.demos("demo_count", cat.codebook), hp.probe_form, hp.demo_form, hp.demographics
            )
            self.recipe = replace(self.recipe, units=self.units)
        if hp.eval_demo_count in (None, "all") or self._eval_count_follows:
            self.eval_recipe = replace(
                self.eval_recipe, demo_count=self.protocol.demos("eval_demo_count", cat.codebook)
            )
        self.table = PersonTable(cat)
        allowed = demo_questions(cat.codebook, hp.eval_demo_categories)
        self.eval_recipe = replace(self.eval_recipe, demo_questions=allowed)
        rows = filter_rows(cat, np.asarray(self.split.train_rows), hp.train_filter)
        n = None if str(hp.n_per_question) == "all" else int(hp.n_per_question)
        self.people = train_people(self.table, rows, n, hp.seed)
        short = [cat.codebook.question_ids[q] for q, p in enumerate(self.people) if n is not None and len(p) < n]
        if short:
            log.warning(
                "%d question(s) have fewer than %d valid training people (e.g. %s): all are used",
                len(short),
                n,
                short[:3],
            )
        sequences = sum(len(p) for p in self.people)
        if n is not None and sequences < len(rows):
            # e.g. configs/tiny.yaml (30 per question, sized for 253 questions) on a survey of 15 questions
            log.warning(
                "n_per_question=%d gives %d training sequences per epoch for %d questions, fewer than the "
                "%d training people of this catalog, so most of them are never seen: for a survey of this "
                "size use configs/tiny_survey.yaml (its recipe follows the catalog's protocol), or raise "
                "--data.n_per_question",
                n,
                sequences,
                len(self.people),
                len(rows),
            )

    def _survey_counts(self, overrides: dict[str, Any]) -> None:
        """Demonstration counts sized for the study on a survey too small for them follow the catalog's protocol
        (:func:`ivr.protocol.selection.counts_for_survey`), with one line saying so."""
        from ivr.protocol.resolve import resolve_protocol

        hp, cat = self.hparams, self.catalog
        eval_count = None if hp.eval_demo_count in (None, "all") else str(hp.eval_demo_count)
        own = resolve_protocol(cat.codebook, {**overrides, "eval_demo_count": None}).eval_demo_count
        given = () if hp.units is None and hp.demo_count in (None, "all", "setup") else self.units  # else: protocol's
        units, resolved, line = counts_for_survey(given, eval_count, self.protocol, cat.codebook, self.setups, own)
        self._eval_count_follows = resolved != eval_count
        if self._eval_count_follows:
            origin = {**self.protocol.origin, "eval_demo_count": "default"}
            self.protocol = replace(self.protocol, eval_demo_count=own, origin=origin)
        if given and units != self.units:
            self.units = units
            self.recipe = replace(self.recipe, units=units)
        if line:
            log.warning("%s", line)

    def setup(self, stage: str | None = None) -> None:
        """Load catalog, split, setups, tokenizer and token cache; build the datasets."""
        if self._train is not None:
            return
        hp = self.hparams
        self.setup_people()
        tok = self.load_tokenizer()
        cat = self.catalog
        layout_name = hp.layout
        if layout_name == "auto":
            layout_name = "statement" if is_statement_tokenizer(self.tokenizer_dir) else "choice"
        self.cache = TokenCache(tok, cat.codebook, load_layout(layout_name))
        self.layout = self.cache.layout  # with the label scheme that fits this tokenizer
        if self.layout.kind == "text" and not getattr(tok, "chat_template", None):
            log.warning(
                "tokenizer %s has no chat template: prompts are not chat-wrapped (set data.chat_template, "
                "e.g. llama3.1, for an instruction-tuned model)",
                self.tokenizer_dir,
            )
        self._train = TrainDataset(
            self.table,
            self.cache,
            self.recipe,
            self.people,
            hp.seed,
            hp.max_seq_length,
            hp.score_layout == "option_text",
        )
        self.set_eval_view(self.eval_view)
        self.sampler = ResumableSampler(len(self._train), hp.seed, shuffle=True)
        self.sampler.set_epoch(self._epoch)
        if self._resume is not None:
            self.sampler.resume(*self._resume)
        if hp.check_tokenization and len(self._train):
            step = max(1, len(self._train) // 3)
            self.cache.check([self._train.example(0, i) for i in range(0, len(self._train), step)][:3])

    def set_eval_view(self, view: str) -> None:
        """Evaluate in ``view`` (one of :attr:`eval_views`): rebuilds the validation and test data sets.

        Raises:
            ConventionError: a view this run's ``eval_forms`` does not evaluate.
        """
        if view not in self.eval_views:
            raise ConventionError(
                f"evaluation view {view!r}: this run's eval_forms={self.hparams.eval_forms!r} "
                f"evaluates {list(self.eval_views)}"
            )
        self.eval_view = view
        if self._train is None:
            return
        hp = self.hparams
        limit = hp.limit_eval_people

        def mk(rows: np.ndarray) -> EvalDataset:
            return EvalDataset(
                self.table,
                self.cache,
                self.eval_recipe,
                np.asarray(rows)[:limit],
                self.setups,
                hp.seed,
                hp.max_seq_length,
                hp.eval_packed,
                hp.eval_pack_forms,
                hp.score_layout == "option_text",
                view=view,
            )

        self._val, self._test = mk(self.split.val_rows), mk(self.split.test_rows)

    def convention(self, resemble: str | None = None) -> str:
        """The header naming this run's evaluation convention (printed above every table)."""
        hp = self.hparams
        n = max(len(p) for p in self.setups) if getattr(self, "setups", None) else None
        return convention_header(hp.eval_forms, self.eval_demo_label(), hp.eval_demo_rule, n, resemble)

    def eval_demo_label(self) -> str:
        """The evaluation demonstration count as the protocol states it (``"200"``, ``"all"``)."""
        if getattr(self, "protocol", None) is not None and (
            self.hparams.eval_demo_count in (None, "all") or getattr(self, "_eval_count_follows", False)
        ):
            return str(self.protocol.eval_demo_count)
        return str(self.eval_recipe.demo_count)

    # ---- loaders -----------------------------------------------------------------------------
    def _pad_id(self) -> int:
        tok = self.tokenizer
        return tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)

    def train_dataloader(self) -> DataLoader:
        packed = self.recipe.probes_per_sequence != 1
        return ResumableLoader(
            self._train,
            batch_size=self.hparams.batch_size,
            sampler=self.sampler,
            collate_fn=Collator(self._pad_id(), packed),
            num_workers=self.hparams.num_workers,
            state_fn=self.state_dict,
            load_fn=self.load_state_dict,
        )

    def _eval_loader(self, ds: EvalDataset) -> DataLoader:
        """Each rank scores a disjoint share, padded to the same number of batches (see EvalShardSampler)."""
        bs = self.hparams.eval_batch_size or self.hparams.batch_size
        return DataLoader(
            PaddedEval(ds),
            batch_size=bs,
            sampler=EvalShardSampler(len(ds)),
            num_workers=self.hparams.num_workers,
            collate_fn=Collator(self._pad_id(), self.hparams.eval_packed),
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self._val)

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self._test)

    # ---- epoch and resume --------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Select the training epoch (demonstrations and order are redrawn per epoch)."""
        self._epoch = int(epoch)
        if self._train is not None:
            self.sampler.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Epoch and global position (examples consumed this epoch) for mid-epoch resume."""
        epoch, position = self._epoch, 0
        if self._train is not None:
            epoch, position = self.sampler.epoch, self.sampler.start
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            epoch = trainer.current_epoch
            done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
            # Lightning restores this counter on a mid-epoch resume, so it already includes skipped batches
            position = done * self.hparams.batch_size * trainer.world_size
        return {"epoch": int(epoch), "position": int(position), "seed": int(self.hparams.seed)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume at ``state["epoch"]``, skipping the ``state["position"]`` examples already consumed."""
        if int(state.get("seed", self.hparams.seed)) != self.hparams.seed:
            raise ConfigError(f"checkpoint data seed {state['seed']} differs from seed={self.hparams.seed}")
        self._epoch, self._resume = int(state["epoch"]), (int(state["epoch"]), int(state["position"]))
        if self._train is not None:
            self.sampler.resume(*self._resume)
