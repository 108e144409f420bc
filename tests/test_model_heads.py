"""Choice-scoring head: scores, loss, predictions and the log-likelihood scorer against hand computations."""

import math

import pytest
import torch
import torch.nn.functional as F

from ivr.model.heads import answer_slots, choice_output, choice_scores, loglik_scores, token_logprobs


@pytest.fixture
def logits() -> torch.Tensor:
    return torch.randn(2, 7, 11, generator=torch.Generator().manual_seed(0))


POS = torch.tensor([[2, 5, -1], [6, 1, 3]])
OPTS = torch.tensor([
    [[1, 2, -1], [3, 4, 5], [-1, -1, -1]],
    [[7, 8, 9], [0, 10, -1], [4, 6, -1]],
])


def test_choice_scores_read_next_token_logits(logits):
    scores = choice_scores(logits, POS, OPTS)
    assert scores.shape == (2, 3, 3)
    assert torch.equal(scores[0, 0, :2], logits[0, 2, [1, 2]])
    assert torch.equal(scores[1, 1, :2], logits[1, 1, [0, 10]])
    assert math.isinf(scores[0, 0, 2]) and scores[0, 0, 2] < 0
    assert torch.isinf(scores[0, 2]).all()  # padded probe


def test_kept_positions_equal_full_logits(logits):
    keep = answer_slots(POS)
    assert keep.tolist() == [1, 2, 3, 5, 6]
    narrow = choice_scores(logits[:, keep], POS, OPTS, kept_positions=keep)
    assert torch.equal(narrow, choice_scores(logits, POS, OPTS))


def test_loss_prediction_and_probs(logits):
    scores = choice_scores(logits, POS, OPTS)
    labels = torch.tensor([[1, 2, -1], [0, -1, 1]])
    out = choice_output(scores, labels)
    rows = [(0, 0, 1), (0, 1, 2), (1, 0, 0), (1, 2, 1)]
    expected = torch.stack([
        F.cross_entropy(scores[b, k][torch.isfinite(scores[b, k])].unsqueeze(0), torch.tensor([t])) for b, k, t in rows
    ]).mean()
    assert out.n_labelled == 4
    assert torch.allclose(out.loss, expected)
    assert torch.allclose(out.loss_sum, expected * 4)
    assert out.pred[0, 2] == -1
    assert out.pred[1, 1] == scores[1, 1, :2].argmax()
    assert torch.allclose(out.probs[0, 1].sum(), torch.tensor(1.0))
    assert out.probs[0, 0, 2] == 0 and out.probs[0, 2].sum() == 0


def test_unlabelled_batch_has_zero_loss_and_finite_grad(logits):
    leaf = logits.clone().requires_grad_(True)
    out = choice_output(choice_scores(leaf, POS, OPTS), torch.full((2, 3), -1))
    out.loss.backward()
    assert out.loss.item() == 0 and torch.isfinite(leaf.grad).all()


def test_gradient_is_finite_with_padded_probes(logits):
    leaf = logits.clone().requires_grad_(True)
    out = choice_output(choice_scores(leaf, POS, OPTS), torch.tensor([[0, 0, -1], [1, 1, 0]]))
    out.loss.backward()
    assert torch.isfinite(leaf.grad).all() and leaf.grad.abs().sum() > 0


def test_label_on_padded_option_is_rejected(logits):
    with pytest.raises(ValueError, match="padded option"):
        choice_output(choice_scores(logits, POS, OPTS), torch.tensor([[2, 0, -1], [0, 0, 0]]))


def test_loglik_sum_and_mean(logits):
    ids = torch.randint(0, 11, (2, 7), generator=torch.Generator().manual_seed(1))
    spans = torch.full((2, 1, 2, 2), -1)
    spans[0, 0, 0] = torch.tensor([2, 5])
    spans[0, 0, 1] = torch.tensor([5, 6])
    spans[1, 0, 0] = torch.tensor([1, 7])
    lp = torch.log_softmax(logits, -1)
    manual = sum(lp[0, t - 1, ids[0, t]] for t in range(2, 5))
    total = loglik_scores(logits, ids, spans, normalize=False)
    mean = loglik_scores(logits, ids, spans, normalize=True)
    assert torch.allclose(total[0, 0, 0], manual, atol=1e-5)
    assert torch.allclose(mean[0, 0, 0], manual / 3, atol=1e-5)
    assert torch.allclose(total[0, 0, 1], lp[0, 4, ids[0, 5]], atol=1e-5)
    assert math.isinf(total[1, 0, 1])
    assert token_logprobs(logits, ids)[:, 0].abs().sum() == 0
    with pytest.raises(ValueError, match="start < end"):
        loglik_scores(logits, ids, torch.tensor([[[[3, 3], [-1, -1]]]]).expand(2, 1, 2, 2), normalize=False)
