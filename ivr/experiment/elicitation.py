"""``elicitation``: accuracy after k adaptively asked questions, per policy and scorer (issue 17).

Every policy of ``policies:`` (:mod:`ivr.elicit`: random, fixed, bayes-eig, reasoner, neighbours)
asks each evaluation person up to ``max(ks)`` questions per probe setup (the setup's probes never;
a missing catalog answer is a skip); every scorer of ``scorers:`` (bayes, reasoner, resemble;
:mod:`ivr.elicit.scoring`) then predicts the probes from the answered questions among the first k,
for every k of ``ks``, scored by the protocol (polar / refined / all accuracy, bootstrap intervals)
and, at ``group_k``, per demographic group with sigma_INEQUITY. Runs: ``train_reasoner`` (when a
reasoner is used: ``reasoner:`` recipe over ``base:``), ``order_fixed``, ``seq_<policy>`` (the asked
sequences) and ``score_<scorer>_<policy>``; each is reused on a restart. The console names, per
scorer, the smallest k at which the best adaptive policy reaches the lower bound of the bootstrap
interval of random at the largest k.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.elicit import POLICIES, SCORERS
from ivr.errors import ConfigError
from ivr.experiment.bayes import setup_probes
from ivr.experiment.elicitation_stopping import DEFAULT_RULES, STOP_SCORERS
from ivr.experiment.models import SETUPS, ModelExperiment
from ivr.experiment.runner import RUNS_DIR, Run
from ivr.experiment.settings import ModelExperimentSettings
from ivr.outputs import read_json
from ivr.settings import Count, Count0

METRICS = ("polar_avg", "refined_avg", "all")


@dataclass
class ElicitationSettings(ModelExperimentSettings):
    """Settings of ``elicitation``.

    Attributes:
        policies: policies compared (random, fixed, bayes-eig, reasoner, neighbours).
        scorers: scorers (bayes, reasoner, resemble).
        ks: numbers of asked questions scored.
        metric: the headline accuracy (polar_avg, refined_avg or all).
        reasoner: the trained reasoner's recipe (data / model / trainer over ``base:``).
        reasoner_stride: questions the reasoner policy takes per model call (1 = fully adaptive).
        reasoner_max_len: sequence budget of the reasoner's elicitation sequences (prefix + every probe).
        pool: Resemble / neighbours pool: a number of training people or ``all``.
        n_neighbours: neighbours consulted (Resemble's top cluster, 24).
        fixed_people: training people the fixed order is learned on.
        group_k: k of the per-group accuracy and sigma_INEQUITY table.
        dimensions: demographic dimensions at ``group_k`` (null = the codebook's).
        batch_size: people per reasoner forward pass.
        stopping: stopping rules (``max_questions``, ``target``, ``min_gain``) scored per policy with the
            bayes and reasoner scorers (:mod:`ivr.experiment.elicitation_stopping`); [] = none.
    """

    policies: list[str] = field(default_factory=lambda: list(POLICIES))
    scorers: list[str] = field(default_factory=lambda: list(SCORERS))
    ks: list[Count0] = field(default_factory=lambda: [0, 5, 10, 20, 50, 100, 200])
    metric: str = "all"
    reasoner: dict[str, Any] = field(default_factory=dict)
    reasoner_stride: Count = 1
    reasoner_max_len: Count = 16384
    pool: int | str = 1600
    n_neighbours: Count = 24
    fixed_people: Count = 2000
    group_k: Count0 = 20
    dimensions: list[str] | None = None
    batch_size: Count = 16
    stopping: list[dict[str, Any]] = field(default_factory=lambda: [dict(r) for r in DEFAULT_RULES])


class ElicitationExperiment(ModelExperiment):
    """Adaptive elicitation against random demonstrations (module doc)."""

    name = "elicitation"
    settings = ElicitationSettings
    title = "Accuracy after k asked questions, by elicitation policy and scorer"

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        from ivr.experiment.settings import typed
        from ivr.experiment.training import recipe_sections

        s = typed(cls.settings, config)
        for key, known in (("policies", POLICIES), ("scorers", SCORERS)):
            bad = [p for p in getattr(s, key) or [] if p not in known]
            if bad or not getattr(s, key):
                raise ConfigError(f"--{key} {getattr(s, key)!r}: use a non-empty subset of {list(known)}")
        ks = s.ks or []
        if not ks or any(not isinstance(k, int) or k < 0 for k in ks):
            raise ConfigError(f"--ks {ks!r}: use a list of counts >= 0, e.g. [0, 5, 10, 20, 50, 100, 200]")
        if s.metric not in METRICS:
            raise ConfigError(f"--metric {s.metric!r}: use one of {list(METRICS)}")
        pool = str(s.pool)
        if pool != "all" and not (pool.isdigit() and int(pool) >= 1):
            raise ConfigError(f"--pool {pool!r}: use 'all' or a positive number of training people")
        from ivr.experiment.elicitation_stopping import parse_rules

        parse_rules(s.stopping or [])
        if cls.uses_reasoner(s):
            recipe_sections(s.base or {}, {"name": "reasoner", **(s.reasoner or {})})

    def adapt(self) -> list[str]:
        """On a real catalog the Bayes policy and scorer are left out (one line each), before any training."""
        if self.synthetic:
            return []
        c, notes = self.cfg, []
        for key, name, fix in (
            ("policies", "bayes-eig", "random, fixed, neighbours or reasoner"),
            ("scorers", "bayes", "resemble or reasoner"),
        ):
            if name not in getattr(c, key):
                continue
            setattr(c, key, [x for x in getattr(c, key) if x != name])
            if not getattr(c, key):
                raise ConfigError(
                    f"--{key} [{name}]: it needs a synthetic catalog (the generator's synth_model.npz) "
                    f"and {self.catalog_spec} is real; list {fix}"
                )
            notes.append(f"left out --{key} {name}: it needs a synthetic catalog (synth_model.npz), this one is real")
        return notes

    @staticmethod
    def uses_reasoner(settings: ElicitationSettings) -> bool:
        """Whether the settings use the reasoner policy or scorer."""
        return "reasoner" in (settings.policies or []) or "reasoner" in (settings.scorers or [])

    # ---- plan ------------------------------------------------------------------------------------
    def seq_params(self, policy: str) -> dict[str, Any]:
        c = self.cfg
        p = {**self.common_params(), "policy": policy, "steps": max(c.ks)}
        if policy == "fixed":
            p["fixed_people"] = c.fixed_people
        if policy == "neighbours":
            p.update(pool=str(c.pool), n_neighbours=c.n_neighbours)
        if policy == "reasoner":
            p.update(reasoner=self.sections(c.reasoner or {}), stride=c.reasoner_stride, max_len=c.reasoner_max_len)
        return p

    def plan(self) -> list[Run]:
        c = self.cfg
        runs = []
        if self.uses_reasoner(c):
            runs.append(self.train_run("reasoner", c.reasoner or {}))
        for policy in c.policies:
            runs.append(Run(f"seq_{policy}", self.seq_params(policy)))
        for scorer in c.scorers:
            for policy in c.policies:
                extra = {"scorer": scorer, "ks": list(c.ks), "group_k": c.group_k, "dimensions": c.dimensions}
                if scorer == "resemble":
                    extra.update(pool=str(c.pool), n_neighbours=c.n_neighbours)
                if scorer == "reasoner":
                    extra.update(reasoner=self.sections(c.reasoner or {}), max_len=c.reasoner_max_len)
                runs.append(Run(f"score_{scorer}_{policy}", {"sequences": self.seq_params(policy), **extra}))
        for scorer in [s for s in c.scorers if s in STOP_SCORERS and c.stopping]:
            for policy in c.policies:
                extra = {"scorer": scorer, "rules": list(c.stopping)}
                if scorer == "reasoner":
                    extra.update(reasoner=self.sections(c.reasoner or {}), max_len=c.reasoner_max_len)
                runs.append(Run(f"stop_{scorer}_{policy}", {"sequences": self.seq_params(policy), **extra}))
        return runs

    # ---- building blocks -------------------------------------------------------------------------
    def train_rows(self) -> np.ndarray:
        from ivr.experiment.bayes import eval_split

        # the split of the scored people under the same protocol overrides (probes_per_category, n_setups ...),
        # so no scored person is in the pool behind the fixed order, the neighbours and the Resemble scorer
        return np.asarray(eval_split(self.catalog, self.eval_settings).train_rows)

    def pool_rows(self, size: str | int) -> np.ndarray:
        from baselines.resemble import sample_pool  # entry points compose the baselines lazily
        from ivr.protocol.sampling import id_keys

        size = str(size)
        return sample_pool(
            self.train_rows(),
            None if size == "all" else int(size),
            self.eval_settings.seed,
            id_keys(self.catalog.person_ids),
        )

    def predictor(self, max_len: int) -> Any:
        from ivr.data.datamodule import IVRDataModule
        from ivr.elicit.reasoner import ReasonerPredictor
        from ivr.model.export import reasoner_from_checkpoint

        sections = self.sections(self.cfg.reasoner or {})
        dm = IVRDataModule(**{**sections["data"], "max_seq_length": int(max_len)})
        dm.setup("test")
        return ReasonerPredictor(
            reasoner_from_checkpoint(self.checkpoint("reasoner")), dm, batch_size=int(self.cfg.batch_size)
        )

    def policy(self, name: str) -> Any:
        from ivr.elicit import policies as pol

        c = self.cfg
        if name == "random":
            return pol.RandomPolicy(self.eval_settings.seed)
        if name == "fixed":
            rows = self.pool_rows(min(int(c.fixed_people), len(self.train_rows())))
            return pol.FixedPolicy(
                pol.learn_fixed_order(
                    self.catalog.refined[rows], np.asarray(self.catalog.codebook.n_options("refined"))
                )
            )
        if name == "bayes-eig":
            from ivr.elicit.bayes import BayesEIGPolicy

            return BayesEIGPolicy(self.bayes_model("--policies bayes-eig"))
        if name == "neighbours":
            from baselines.elicit import NeighboursPolicy

            return NeighboursPolicy(self.catalog, self.pool_rows(c.pool), c.n_neighbours, self.eval_settings.seed)
        from ivr.elicit.reasoner import ReasonerPolicy

        return ReasonerPolicy(self.predictor(c.reasoner_max_len), c.reasoner_stride)

    def scorer(self, p: dict[str, Any]) -> Any:
        """The ``score_*`` / ``stop_*`` run's scorer as a :class:`ivr.predict.Predictor` (module doc)."""
        if p["scorer"] == "bayes":
            from ivr.predict.bayes import BayesCeiling

            return BayesCeiling(self.bayes_model("--scorers bayes"), name="bayes")
        if p["scorer"] == "reasoner":
            from ivr.elicit.scoring import ReasonerScorer

            return ReasonerScorer(self.predictor(p["max_len"]))
        from baselines.predictors import Resemble, ResembleSearch  # entry points compose the baselines lazily

        search = ResembleSearch(str(p["pool"]), int(p["n_neighbours"]), features="shown")
        return Resemble(search, int(p["n_neighbours"]), "top cluster")

    def asked_examples(self, rows: np.ndarray, shown: dict[int, list[np.ndarray]], k: int | str) -> Any:
        """The scored people's examples whose shown demonstrations are ``shown`` (the answered questions)."""
        from ivr.predict.examples import given_demos

        return given_demos(
            self.catalog,
            rows,
            self.train_rows(),
            setup_probes(self.catalog, SETUPS),
            shown,
            self.eval_settings.seed,
            str(k),
        )

    # ---- runs ------------------------------------------------------------------------------------
    def execute(self, run: Run) -> dict[str, Any]:
        if run.id.startswith("train_"):
            return self.execute_train(run)
        if run.id.startswith("seq_"):
            return self.execute_sequences(run)
        if run.id.startswith("stop_"):
            from ivr.experiment.elicitation_stopping import execute_stopping

            return execute_stopping(self, run)
        return self.execute_score(run)

    def execute_sequences(self, run: Run) -> dict[str, Any]:
        from ivr.elicit.state import simulate, states_for
        from ivr.progress import Progress

        start = time.process_time()
        rows = self.scored_rows()
        steps = int(run.params["steps"])
        policy = self.policy(run.params["policy"])
        sequences = {}
        bar = Progress(steps * len(SETUPS), f"elicit {run.params['policy']}", "steps", enabled=self.progress)
        for s, probes in setup_probes(self.catalog, SETUPS).items():
            states = states_for(self.catalog, rows, s, probes)
            simulate(policy, states, self.catalog.refined, steps, progress=bar.update)
            sequences[str(s)] = [st.asked for st in states]
        bar.close()
        return {
            "policy": run.params["policy"],
            "rows": rows.tolist(),
            "sequences": sequences,
            "cpu_seconds": time.process_time() - start,
        }

    def sequences(self, policy: str) -> dict[str, Any]:
        return read_json(self.out / RUNS_DIR / f"seq_{policy}.json")["result"]

    def execute_score(self, run: Run) -> dict[str, Any]:
        from ivr.elicit.scoring import answered_prefix

        start = time.process_time()
        p = run.params
        seq = self.sequences(p["sequences"]["policy"])
        rows = np.asarray(seq["rows"], dtype=np.int64)
        setups = setup_probes(self.catalog, SETUPS)
        predictor = self.scorer(p)
        by_k = {}
        for k in p["ks"]:
            shown = {s: answered_prefix(self.catalog, rows, seq["sequences"][str(s)], k) for s in setups}
            every = list(self.catalog.codebook.dimensions)
            dims = (p["dimensions"] or every) if k == p["group_k"] else []
            scored = self.score(predictor, self.asked_examples(rows, shown, k), dims)
            if k != p["group_k"]:
                scored.pop("per_group", None)
            else:
                from ivr.metrics.inequity import inequity_index

                scored["inequity"] = {f: inequity_index(g)[0] for f, g in scored["per_group"].items()}
            scored["answered"] = float(np.mean([len(q) for lists in shown.values() for q in lists]))
            by_k[str(k)] = scored
        return {
            "scorer": p["scorer"],
            "policy": p["sequences"]["policy"],
            "by_k": by_k,
            "cpu_seconds": time.process_time() - start,
        }

    # ---- outputs ---------------------------------------------------------------------------------
    def table(self, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
        from ivr.experiment.elicitation_report import elicitation_table

        return elicitation_table(self.cfg, results)

    def figure(self, results: dict[str, dict[str, Any]], table: pd.DataFrame, out_dir: Path) -> list[Path]:
        from ivr.experiment.elicitation_report import elicitation_figure

        return elicitation_figure(self.cfg, table, out_dir)

    def extra_text(self, results: dict[str, dict[str, Any]], table: pd.DataFrame) -> str:
        from ivr.experiment.elicitation_report import matching_text
        from ivr.experiment.elicitation_stopping import stopping_text

        return "\n\n".join(t for t in (matching_text(self.cfg, results, table), stopping_text(self.cfg, results)) if t)
