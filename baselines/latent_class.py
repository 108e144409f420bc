"""Latent class analysis: a finite mixture of answer profiles fitted by EM to the training people.

The classic survey model (Lazarsfeld; Goodman): every person belongs to one of ``n_classes`` latent
classes, and within a class the answers to different questions are independent, each with its own
distribution over the refined options. EM fits the class shares and the per-class option
probabilities to the training people's refined answers (missing answers simply do not enter), with an
add-``smoothing`` Dirichlet prior on each per-class distribution. A test person is then predicted as
the synthetic population's Bayes predictor predicts (:func:`ivr.predict.bayes.bayes_predictions`): the
posterior over classes given the shown demonstrations, mixed over the classes' option probabilities.
Polar options group refined ones, so one fit serves both forms.

On the synthetic population this is the Bayes predictor with *estimated* profiles: the generator is
such a mixture (4,000 profiles), so the row measures how much of the ceiling a model of the right
family reaches when it must learn the profiles from the training people (README, issue 16).

The fit depends only on the set of training people, not on their row order: rows are put in the order
of their person ids' keys before the seeded start.

:func:`profile_oracle_model` is the same family with the clustering given rather than found: every
training person is put in the profile the generator's exact posterior gives their answers, and each
profile's option probabilities are counted from its members. It is the reference the trained reasoner
and the latent class row are measured against beside the ceiling: what a learner that recovers every
profile could reach from this many people (:mod:`ivr.ceiling`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from ivr.catalog.codebook import Codebook
from ivr.catalog.store import Catalog
from ivr.catalog.synth.demographics import FEATURES
from ivr.catalog.synth.model import SynthModel
from ivr.errors import ConfigError
from ivr.progress import progress
from ivr.protocol.sampling import id_keys

log = logging.getLogger(__name__)


def _refined_onehot(catalog: Catalog, rows: np.ndarray) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """float32 [N, V] one-hot refined answers, the option offset of each question and its option count."""
    n_opt = np.asarray(catalog.codebook.n_options("refined"), np.int64)
    offset = np.concatenate([[0], np.cumsum(n_opt)[:-1]])
    ans = catalog.refined[rows].astype(np.int64)
    keep = ans >= 0
    x = torch.zeros(len(rows), int(n_opt.sum()))
    r, q = np.nonzero(keep)
    x[torch.from_numpy(r), torch.from_numpy(offset[q] + ans[r, q])] = 1.0
    return x, offset, n_opt


def _code_probs(codebook: Codebook, option_probs: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """[K, Q, Cmax] raw-code probabilities: each refined option's mass shared evenly by its codes."""
    c_max = max(len(q.codes) for q in codebook.questions)
    out = np.zeros((option_probs.shape[0], len(codebook.questions), c_max))
    for j, q in enumerate(codebook.questions):
        pos = {c: i for i, c in enumerate(q.codes)}
        for o, opt in enumerate(q.options("refined")):
            share = option_probs[:, offset[j] + o] / len(opt.codes)
            for c in opt.codes:
                out[:, j, pos[c]] = share
    return out


def fit_latent_class(
    catalog: Catalog,
    rows: np.ndarray,
    n_classes: int,
    iters: int = 60,
    smoothing: float = 0.5,
    seed: int = 0,
    tol: float = 1e-6,
    progress_bar: bool = True,
) -> SynthModel:
    """EM for a latent class model of the refined answers of ``rows``.

    Args:
        catalog: the catalog (any survey; its codebook's refined options are the answer categories).
        rows: training rows (their order does not matter).
        n_classes: latent classes.
        iters: EM iterations at most.
        smoothing: Dirichlet pseudo-count added to every (class, option) count.
        seed: seed of the random start (Dirichlet responsibilities).
        tol: stop when the mean log-likelihood per person improves by less than this.
        progress_bar: progress line per iteration.

    Returns:
        A :class:`SynthModel` holding the fitted mixture (class shares as its marginal prior; no country
        or demographic prior), so its ``posterior`` is this model's predictive distribution.

    Raises:
        ConfigError: fewer training people than classes, or a non-positive setting (a ValueError).
    """
    rows = np.asarray(rows, dtype=np.int64)
    if n_classes < 1 or iters < 1 or smoothing <= 0:
        raise ConfigError(
            f"latent classes: n_classes={n_classes}, iters={iters}, smoothing={smoothing}; "
            "use positive values (--latent_classes)"
        )
    if len(rows) < n_classes:
        raise ConfigError(
            f"--latent_classes {n_classes}: the training pool has only {len(rows)} people; use fewer classes"
        )
    rows = rows[np.argsort(id_keys(catalog.person_ids)[rows], kind="stable")]
    x, offset, n_opt = _refined_onehot(catalog, rows)
    group = torch.from_numpy(np.repeat(np.arange(len(n_opt)), n_opt))
    gen = torch.Generator().manual_seed(seed)
    resp = -torch.log(torch.rand(len(rows), n_classes, generator=gen, dtype=torch.float64).clamp(min=1e-12))
    resp = (resp / resp.sum(1, keepdim=True)).float()  # a flat-Dirichlet draw per person
    last = -np.inf
    for it in progress(range(iters), "latent classes: EM", unit="iterations", enabled=progress_bar):
        counts = resp.T @ x + smoothing  # [K, V]
        totals = torch.zeros(n_classes, len(n_opt)).index_add_(1, group, counts)
        log_p = (counts / totals[:, group]).log()
        share = resp.sum(0) + 1.0
        log_share = (share / share.sum()).log()
        ll = x @ log_p.T + log_share  # [N, K]
        norm = torch.logsumexp(ll, 1, keepdim=True)
        resp = (ll - norm).exp()
        mean_ll = float(norm.mean())
        if mean_ll - last < tol:
            log.info("latent classes: converged after %d iterations", it + 1)
            break
        last = mean_ll
    return _class_model(
        catalog.codebook,
        log_p.exp(),
        log_share,
        offset,
        {
            "latent_classes": n_classes,
            "iterations": it + 1,
            "smoothing": smoothing,
            "mean_loglik": mean_ll,
            "seed": seed,
        },
    )


def _class_model(
    codebook: Codebook, probs: torch.Tensor, log_share: torch.Tensor, offset: np.ndarray, settings: dict[str, Any]
) -> SynthModel:
    """A :class:`SynthModel` of classes with refined option probabilities ``probs`` [K, V] and log shares
    ``log_share`` [K] (no country or demographic prior)."""
    k = probs.shape[0]
    return SynthModel(
        codebook,
        _code_probs(codebook, probs.double().numpy(), offset),
        np.zeros(0, np.int64),
        np.zeros((0, k)),
        np.zeros((k, len(FEATURES))),
        log_share.double().numpy(),
        settings,
    )


def profile_oracle_model(
    catalog: Catalog, truth: SynthModel, rows: np.ndarray, pseudo_people: float = 4.0, chunk: int = 8192
) -> SynthModel:
    """The generator's profiles with their answer probabilities counted from the training people.

    Every person of ``rows`` is assigned the profile of largest posterior under ``truth`` given all of
    their refined answers (with about 240 answers it is their own profile almost surely). Each profile's
    refined option probabilities are then its members' answer counts plus ``pseudo_people`` answers
    spread as the population marginal (a profile's few members otherwise leave most options at zero),
    and its share is its member count plus one.

    Args:
        catalog: the synthetic catalog.
        truth: its generator (:meth:`SynthModel.load`).
        rows: training rows (their order does not matter).
        pseudo_people: weight of the population marginal added to every profile's counts.
        chunk: people per block of the assignment product.

    Returns:
        A :class:`SynthModel` whose ``posterior`` is this reference's predictive distribution.

    Raises:
        ConfigError: ``pseudo_people`` is not positive, or no training people are given.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if pseudo_people <= 0 or len(rows) == 0:
        raise ConfigError(
            f"profile oracle: pseudo_people={pseudo_people} with {len(rows)} training people; "
            "use a positive pseudo count and a non-empty training pool"
        )
    rows = rows[np.argsort(id_keys(catalog.person_ids)[rows], kind="stable")]
    x, offset, n_opt = _refined_onehot(catalog, rows)
    n_max = max(catalog.codebook.n_options("refined"))
    cols = np.concatenate([q * n_max + np.arange(n) for q, n in enumerate(n_opt)])
    log_p = torch.from_numpy(truth.log_option_probs("refined")[:, cols]).float()  # [K, V]
    prior = torch.from_numpy(truth.marginal_logprior - np.logaddexp.reduce(truth.marginal_logprior)).float()
    assign = torch.cat([(x[s : s + chunk] @ log_p.T + prior).argmax(1) for s in range(0, len(x), chunk)])
    k = truth.n_profiles
    group = torch.from_numpy(np.repeat(np.arange(len(n_opt)), n_opt))
    marginal = x.sum(0) + 1.0
    marginal = marginal / torch.zeros(len(n_opt)).index_add_(0, group, marginal)[group]
    counts = torch.zeros(k, x.shape[1]).index_add_(0, assign, x) + pseudo_people * marginal
    totals = torch.zeros(k, len(n_opt)).index_add_(1, group, counts)
    share = torch.bincount(assign, minlength=k).float() + 1.0
    return _class_model(
        catalog.codebook,
        counts / totals[:, group],
        (share / share.sum()).log(),
        offset,
        {
            "profile_oracle": k,
            "pseudo_people": pseudo_people,
            "people": len(rows),
            "profiles_with_members": int((share > 1).sum()),
        },
    )


def latent_class_predictions(
    catalog: Catalog,
    train_rows: np.ndarray,
    rows: np.ndarray,
    setups: dict[int, np.ndarray],
    n_classes: int,
    n_demos: int | str,
    seed: int,
    view: str = "matched",
    **fit: Any,
) -> Any:
    """Fit on ``train_rows`` and predict every (person, setup, form, probe) of ``rows`` from the shown
    demonstrations (the protocol's draw, as the Bayes row)."""
    from ivr.catalog.codebook import FORMS
    from ivr.predict.bayes import bayes_predictions

    model = fit_latent_class(catalog, train_rows, n_classes, seed=seed, **fit)
    return bayes_predictions(catalog, model, rows, setups, list(FORMS), n_demos, seed, view=view)
