"""The policy and predictor of a served interview: the exact Bayes posterior or a trained reasoner.

``--bayes`` (a synthetic catalog): bayes-eig asks, the exact posterior predicts. ``--ckpt_path``: the
reasoner's uncertainty asks, the reasoner predicts (the ``--data.*``, ``--tokenizer`` and
``--max_seq_length`` it was trained with). ``--policy random`` asks in a seeded random order instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ivr.errors import ConfigError

SERVE_POLICIES = ("auto", "random", "bayes-eig", "reasoner")


@dataclass
class Backend:
    """What a server needs to run interviews."""

    codebook: Any
    policy: Any
    predict: Any  # ivr.elicit.stopping.Predictor
    probes: np.ndarray
    setup: int
    fingerprint: dict[str, Any]


def load_backend(
    bayes: bool,
    ckpt_path: str | None,
    data: Any,
    policy: str = "auto",
    setup: int = 0,
    tokenizer: str = "statement",
    max_seq_length: int = 16384,
) -> Backend:
    """The catalog's probes, the policy and the predictor for ``--bayes`` or ``--ckpt_path``.

    Raises:
        ConfigError: both or neither of ``--bayes`` / ``--ckpt_path``, an unknown or impossible policy,
            a negative setup, a catalog that is not synthetic with ``--bayes``, a missing checkpoint.
    """
    from ivr.catalog.resolve import open_catalog
    from ivr.elicit.policies import RandomPolicy
    from ivr.elicit.stopping import bayes_predictor, reasoner_predictor
    from ivr.protocol.probes import probe_setups

    if bool(bayes) == bool(ckpt_path):
        raise ConfigError("give exactly one of --bayes (a synthetic catalog's exact posterior) or --ckpt_path CKPT")
    if policy not in SERVE_POLICIES:
        raise ConfigError(f"--policy {policy!r}: use one of {list(SERVE_POLICIES)}")
    if setup < 0:
        raise ConfigError(f"--setup {setup}: use a setup number >= 0")
    if bayes and policy == "reasoner":
        raise ConfigError("--policy reasoner needs --ckpt_path CKPT (a trained reasoner)")
    if ckpt_path and policy == "bayes-eig":
        raise ConfigError("--policy bayes-eig needs --bayes (a synthetic catalog's exact posterior)")
    catalog = open_catalog(data.catalog, data.cache_dir)
    folder = catalog.folder
    probes = probe_setups(catalog.codebook, n_setups=setup + 1)[setup]  # the survey's default protocol
    print_name = "bayes" if bayes else str(Path(ckpt_path).resolve())
    fingerprint = {
        "catalog": str(Path(folder).resolve()),
        "model": print_name,
        "setup": setup,
        "policy": policy,
        "seed": data.seed,
    }
    if bayes:
        from ivr.elicit.bayes import BayesEIGPolicy
        from ivr.predict.bayes import load_model

        eig = BayesEIGPolicy(load_model(folder, "--bayes"))
        chosen = eig if policy in ("auto", "bayes-eig") else RandomPolicy(data.seed)
        return Backend(catalog.codebook, chosen, bayes_predictor(eig.posterior), probes, setup, fingerprint)
    from ivr.cli import check_model_path
    from ivr.data.datamodule import IVRDataModule
    from ivr.elicit.reasoner import ReasonerPolicy, ReasonerPredictor
    from ivr.model.export import reasoner_from_checkpoint

    check_model_path(ckpt_path, "--ckpt_path")
    module = reasoner_from_checkpoint(ckpt_path)
    dm = IVRDataModule(
        catalog=str(folder),
        tokenizer=tokenizer,
        n_per_question=1,
        max_seq_length=max_seq_length,
        seed=data.seed,
        split_size=data.split_size,
        split_rule=data.split_rule,
        cache_dir=data.cache_dir,
    )
    dm.setup("test")
    predictor = ReasonerPredictor(module, dm)
    chosen = ReasonerPolicy(predictor) if policy in ("auto", "reasoner") else RandomPolicy(data.seed)
    return Backend(catalog.codebook, chosen, reasoner_predictor(predictor), probes, setup, fingerprint)
