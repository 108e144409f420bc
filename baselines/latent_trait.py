"""A low-rank latent-trait model: multidimensional nominal-response IRT fitted on the training people.

Every person has ``rank`` latent traits ``theta`` (prior: standard normal); every (question, form) has,
per option, an intercept ``b`` and a loading vector ``a``, and the person's answer is a softmax over the
question's options of ``b + a . theta`` (Bock's nominal response model in several dimensions; a
categorical matrix factorisation). Both forms' items are fitted together to the training people's polar
and refined answers (missing answers do not enter) by full-batch Adam on the penalised likelihood
(``l2`` on loadings, the normal prior on traits), in torch. The softmax runs per block of questions
with the same option count (no padded options to mask), and the work runs on one thread
(:func:`baselines.threads.one_thread`).

Prediction: a person's traits are their MAP estimate given only their shown demonstrations, read with
the items of the demonstration form (a person shown nothing gets the prior mean; every setup's people are
estimated in one batch, each person's estimate apart from the others'); the probe's option
probabilities are the item's softmax at those traits. At most ``train_people`` training people (a seeded
choice keyed on person ids) are used.
"""

from __future__ import annotations

import numpy as np
import torch

from baselines.gbt import choose_people
from baselines.threads import one_thread
from ivr.catalog.codebook import FORMS
from ivr.predict import Outputs, Predictor, PreparedExamples, ProbeOutput, TrainView

TAG_PEOPLE = 14  # RNG stream of the training people's choice


def _option_mask(n_opt: np.ndarray) -> torch.Tensor:
    width = int(n_opt.max())
    return torch.from_numpy(np.arange(width)[None, :] < n_opt[:, None])


class _Blocks:
    """A form's questions grouped by option count, so the softmax runs on each block without padding.

    ``blocks`` holds per option count ``n``: the questions with ``n`` options (long [Qn]), and given answers
    the block's answers (long [N, Qn], -1 clamped to 0) and their weights (float [N, Qn]: 1 answered, 0 not).
    """

    def __init__(self, n_opt: np.ndarray) -> None:
        self.groups = [(int(n), torch.from_numpy(np.flatnonzero(n_opt == n))) for n in np.unique(n_opt)]

    def data(self, answers: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per block the answers (clamped) and the answered weights of ``answers`` [N, Q] (-1 = not counted)."""
        out = []
        for _, qs in self.groups:
            sub = torch.from_numpy(answers[:, qs.numpy()].astype(np.int64))
            out.append((sub.clamp(min=0), (sub >= 0).float()))
        return out


def _loglik(
    theta: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    blocks: _Blocks,
    data: list[tuple[torch.Tensor, torch.Tensor]],
) -> torch.Tensor:
    """Summed log-likelihood of the answers ``data`` (:meth:`_Blocks.data`) under traits ``theta`` [N, R]."""
    total = theta.new_zeros(())
    for (n, qs), (ans, ok) in zip(blocks.groups, data):
        a_g, b_g = a[qs, :n], b[qs, :n]  # [Qn, n, R], [Qn, n]
        logits = (theta @ a_g.reshape(-1, a.shape[2]).T).view(len(theta), len(qs), n) + b_g
        picked = logits.gather(2, ans.unsqueeze(2)).squeeze(2)
        total = total + ((picked - torch.logsumexp(logits, dim=2)) * ok).sum()
    return total


class LatentTrait(Predictor):
    """Multidimensional nominal-response IRT (see the module docstring).

    Args:
        rank: latent traits per person.
        train_people: training people used at most (seeded choice).
        steps: Adam steps of the fit; infer_steps: of each person's trait estimate.
        lr: Adam's learning rate; l2: penalty on the item loadings.
    """

    def __init__(
        self,
        rank: int = 6,
        train_people: int | None = 4000,
        steps: int = 300,
        infer_steps: int = 150,
        lr: float = 0.05,
        l2: float = 0.01,
    ) -> None:
        self.rank, self.train_people, self.steps, self.infer_steps = rank, train_people, steps, infer_steps
        self.lr, self.l2 = lr, l2
        self.name = f"Latent traits (IRT, rank {rank})"

    def fit(self, train: TrainView) -> None:
        with one_thread():
            self._fit(train)

    def _fit(self, train: TrainView) -> None:
        catalog = train.catalog
        rows = choose_people(train, self.train_people, TAG_PEOPLE)
        gen = torch.Generator().manual_seed(train.seed)
        n_q = len(catalog.codebook.questions)
        self.mask = {f: _option_mask(np.asarray(catalog.codebook.n_options(f))) for f in FORMS}
        self.blocks = {f: _Blocks(np.asarray(catalog.codebook.n_options(f))) for f in FORMS}
        answers = {f: catalog.answers(f)[rows] for f in FORMS}
        data = {f: self.blocks[f].data(answers[f]) for f in FORMS}
        self.a = {
            f: (0.1 * torch.randn(n_q, self.mask[f].shape[1], self.rank, generator=gen)).requires_grad_() for f in FORMS
        }
        self.b = {f: torch.zeros(n_q, self.mask[f].shape[1]).requires_grad_() for f in FORMS}
        theta = (0.1 * torch.randn(len(rows), self.rank, generator=gen)).requires_grad_()
        params = [theta, *self.a.values(), *self.b.values()]
        opt = torch.optim.Adam(params, lr=self.lr)
        n = max(1, int(sum((answers[f] >= 0).sum() for f in FORMS)))
        for _ in range(self.steps):
            opt.zero_grad()
            nll = -sum(_loglik(theta, self.a[f], self.b[f], self.blocks[f], data[f]) for f in FORMS)
            penalty = 0.5 * (theta**2).sum() + 0.5 * self.l2 * len(rows) * sum((a**2).sum() for a in self.a.values())
            ((nll + penalty) / n).backward()
            opt.step()
        for p in params:
            p.requires_grad_(False)

    def traits(self, shown: np.ndarray, demo_form: str) -> torch.Tensor:
        """MAP traits [E, R] of people whose shown answers (-1 elsewhere) in ``demo_form`` are ``shown``."""
        data = self.blocks[demo_form].data(shown)
        theta = torch.zeros(len(shown), self.rank, requires_grad=True)
        opt = torch.optim.Adam([theta], lr=self.lr * 2)
        for _ in range(self.infer_steps):
            opt.zero_grad()
            loss = -_loglik(theta, self.a[demo_form], self.b[demo_form], self.blocks[demo_form], data)
            (loss + 0.5 * (theta**2).sum()).backward()
            opt.step()
        return theta.detach()

    def predict_proba(self, examples: PreparedExamples) -> Outputs:
        with one_thread():
            return self._predict(examples)

    def _predict(self, examples: PreparedExamples) -> Outputs:
        out = {}
        traits: dict[tuple[int, str], torch.Tensor] = {}
        wanted: dict[str, dict[int, np.ndarray]] = {}  # demo form -> setup -> shown answers
        for s, form in examples.pairs():
            wanted.setdefault(examples.demo_form(form), {}).setdefault(s, examples.shown_answers(s, form))
        for demo_form, shown in wanted.items():  # one estimate for every setup (each person's traits are apart)
            theta = self.traits(np.concatenate(list(shown.values())), demo_form)
            traits.update({(s, demo_form): t for s, t in zip(shown, theta.split(examples.n_people))})
        for s, form in examples.pairs():
            demo_form = examples.demo_form(form)
            probes = torch.from_numpy(examples.setups[s])
            logits = torch.einsum("nr,qor->nqo", traits[(s, demo_form)], self.a[form][probes]) + self.b[form][probes]
            mask = self.mask[form][probes]
            probs = torch.softmax(logits.masked_fill(~mask, -1e9), dim=2).double().numpy()
            width = int(mask.sum(1).max())
            probs = np.where(mask.numpy()[None], probs, np.nan)[:, :, :width]
            out[(s, form)] = ProbeOutput(probs)
        return out

    def describe(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "train_people": self.train_people,
            "steps": self.steps,
            "infer_steps": self.infer_steps,
            "lr": self.lr,
            "l2": self.l2,
        }
