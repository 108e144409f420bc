"""Choice-scoring head: scores, loss, predictions and the full-option log-likelihood against hand computations."""

import math

import pytest
import torch
import torch.nn.functional as F

from ivr.model.heads import answer_slots, choice_output, choice_scores
from ivr.model.loglik import LOGLIK_MODES, loglik_from_hidden, loglik_from_logits, predicting_positions


@pytest.fixture
def logits() -> torch.Tensor:
    return torch.randn(2, 7, 11, generator=torch.Generator().manual_seed(0))


POS = torch.tensor([[2, 5, -1], [6, 1, 3]])
OPTS = torch.tensor(
    [
        [[1, 2, -1], [3, 4, 5], [-1, -1, -1]],
        [[7, 8, 9], [0, 10, -1], [4, 6, -1]],
    ]
)


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
    expected = torch.stack(
        [
            F.cross_entropy(scores[b, k][torch.isfinite(scores[b, k])].unsqueeze(0), torch.tensor([t]))
            for b, k, t in rows
        ]
    ).mean()
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


def test_full_option_loglik_reads_each_answer_from_its_probe():
    g = torch.Generator().manual_seed(2)
    hidden, weight, bias = (
        torch.randn(2, 9, 5, generator=g),
        torch.randn(11, 5, generator=g),
        torch.randn(11, generator=g),
    )
    ids = torch.randint(0, 11, (2, 9), generator=g)
    answer = torch.tensor([[2], [3]])
    # sequence 0: option 0 = tokens 3..5, option 1 = tokens 5..6 (a sub-branch after option 0); sequence 1: one option
    spans = torch.tensor([[[[3, 5], [5, 6]]], [[[4, 8], [-1, -1]]]])
    chars = torch.tensor([[[7, 2]], [[10, -1]]])
    batch = {"input_ids": ids, "answer_positions": answer, "option_spans": spans, "option_chars": chars}
    lp = torch.log_softmax(hidden @ weight.T + bias, -1)
    want = torch.stack(
        [
            lp[0, 2, ids[0, 3]] + lp[0, 3, ids[0, 4]],  # the first token is predicted at the probe's end
            lp[0, 2, ids[0, 5]],
            lp[1, 3, ids[1, 4]] + lp[1, 4, ids[1, 5]] + lp[1, 5, ids[1, 6]] + lp[1, 6, ids[1, 7]],
        ]
    )
    got = {m: loglik_from_hidden(hidden, batch, weight, bias, m) for m in LOGLIK_MODES}
    real = spans[..., 0] >= 0
    torch.testing.assert_close(got["loglik_sum"][real], want)
    torch.testing.assert_close(got["loglik_mean"][real], want / torch.tensor([2.0, 1.0, 4.0]))
    torch.testing.assert_close(got["loglik_char"][real], want / torch.tensor([7.0, 2.0, 10.0]))
    assert torch.isinf(got["loglik_sum"][1, 0, 1])
    keep = predicting_positions(batch)
    assert keep.tolist() == [2, 3, 4, 5, 6]
    logits = (hidden @ weight.T + bias)[:, keep]
    torch.testing.assert_close(loglik_from_logits(logits, keep, batch, "loglik_sum"), got["loglik_sum"])
    with pytest.raises(ValueError, match="answer_position < start < end"):
        loglik_from_hidden(
            hidden, {**batch, "option_spans": torch.tensor([[[[2, 4]]], [[[5, 5]]]])}, weight, None, "loglik_sum"
        )


def test_distinct_rows_groups_equal_rows_exactly():
    from ivr.model.heads import distinct_rows

    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [2.0, 1.0], [3.0, 4.0]])
    first, inverse = distinct_rows(x)
    assert first.numel() == 3 and torch.equal(x[first][inverse], x)
    assert inverse[0] == inverse[2] and inverse[1] == inverse[4] and len({int(i) for i in inverse[[0, 1, 3]]}) == 3
    assert sorted(first.tolist()) == [0, 1, 3]  # the first row of each group


def test_option_scores_from_shared_rows_equal_the_gathered_option_rows():
    """Probes with identical hidden states (a packed sequence of the statement-set reasoner) are scored by one
    projection onto the small vocabulary: the same scores and gradients as gathering every option row."""
    from ivr.model.heads import _shared_row_scores, option_dot_scores

    g = torch.Generator().manual_seed(1)
    person = torch.randn(2, 1, 6, generator=g, requires_grad=True)
    hidden = person.expand(2, 40, 6)  # 40 probes of 2 people share a state (as the model expands it)
    weight = torch.randn(11, 6, generator=g, requires_grad=True)
    bias = torch.randn(11, generator=g, requires_grad=True)
    pos = torch.arange(40).expand(2, 40).clone()
    pos[1, 30:] = -1
    opts = torch.randint(0, 11, (2, 40, 3), generator=g)
    opts[0, 5, 2] = -1
    assert _shared_row_scores(hidden, opts.clamp(min=0), weight, bias) is not None  # the shared path runs
    shared = option_dot_scores(hidden, pos, opts, weight, bias, shared_rows=True)
    gathered = torch.einsum("bkh,bkoh->bko", hidden, weight[opts.clamp(min=0)]) + bias[opts.clamp(min=0)]
    gathered = gathered.masked_fill((opts < 0) | (pos < 0).unsqueeze(-1), float("-inf"))
    torch.testing.assert_close(shared, gathered)
    keep = torch.isfinite(gathered)
    grads = [
        torch.autograd.grad(s[keep].square().sum(), (person, weight, bias), retain_graph=True)
        for s in (shared, gathered)
    ]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)
    big = torch.randn(5000, 6, generator=g)  # a vocabulary larger than probes x options: the gather path
    assert _shared_row_scores(hidden, opts.clamp(min=0), big, None) is None
