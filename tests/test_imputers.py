"""The classical imputers' faster numerics (issue 24, item 2): the latent-trait likelihood per option-count
block (no padded options) against a plain loop over people and questions."""

from __future__ import annotations

import math

import numpy as np
import torch


def _loop_loglik(theta: np.ndarray, a: np.ndarray, b: np.ndarray, n_opt: np.ndarray, answers: np.ndarray) -> float:
    """The nominal-response log-likelihood written out: every answered (person, question) once."""
    total = 0.0
    for i in range(answers.shape[0]):
        for q in range(answers.shape[1]):
            if answers[i, q] < 0:
                continue
            logits = [b[q, o] + float(np.dot(a[q, o], theta[i])) for o in range(n_opt[q])]
            top = max(logits)
            total += logits[answers[i, q]] - top - math.log(sum(math.exp(v - top) for v in logits))
    return total


def test_block_loglik_matches_a_loop_over_answers() -> None:
    from baselines.latent_trait import _Blocks, _loglik

    rng = np.random.default_rng(0)
    n_opt = np.array([2, 5, 3, 5, 2, 4, 3])
    n, width, rank = 9, int(n_opt.max()), 3
    answers = (rng.random((n, len(n_opt))) * n_opt).astype(np.int64)
    answers[rng.random(answers.shape) < 0.3] = -1
    theta, a, b = (
        rng.normal(size=(n, rank)),
        rng.normal(size=(len(n_opt), width, rank)),
        rng.normal(size=(len(n_opt), width)),
    )
    blocks = _Blocks(n_opt)
    data = [(ans, ok.double()) for ans, ok in blocks.data(answers)]
    got = _loglik(torch.from_numpy(theta), torch.from_numpy(a), torch.from_numpy(b), blocks, data)
    assert abs(float(got) - _loop_loglik(theta, a, b, n_opt, answers)) < 1e-9
