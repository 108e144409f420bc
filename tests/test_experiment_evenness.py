"""Shannon evenness J' = H'/ln S on hand-made answer distributions."""

import math

import numpy as np
import pytest

from ivr.metrics.evenness import option_counts, shannon_evenness


def test_uniform_is_one_and_degenerate_is_zero():
    j = shannon_evenness(np.array([[5, 5, 5, 5], [9, 0, 0, 0], [0, 0, 7, 0]]), 4)
    assert j == pytest.approx([1.0, 0.0, 0.0])


def test_known_two_option_case():
    # p = (3/4, 1/4): H' = -(.75 ln .75 + .25 ln .25) = 0.5623, J' = H'/ln 2 = 0.8113
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert shannon_evenness(np.array([3, 1]), 2) == pytest.approx(h / math.log(2))
    assert shannon_evenness(np.array([3, 1]), 2) == pytest.approx(0.811278, abs=1e-6)


def test_unchosen_options_count_in_s():
    # two of three options chosen equally: J' = ln 2 / ln 3, not 1
    j = shannon_evenness(np.array([[4, 4, 0, 0]]), np.array([3]))
    assert j[0] == pytest.approx(math.log(2) / math.log(3))


def test_no_answers_or_single_option_is_nan():
    j = shannon_evenness(np.array([[0, 0], [3, 0]]), np.array([2, 1]))
    assert np.isnan(j).all()


def test_counts_beyond_s_are_rejected():
    with pytest.raises(ValueError, match="beyond"):
        shannon_evenness(np.array([1, 1, 1]), 2)
    with pytest.raises(ValueError, match=">= 0"):
        shannon_evenness(np.array([1, -1]), 2)


def test_option_counts_skip_missing():
    answers = np.array([[0, 1], [0, -1], [2, 1], [-1, 0]], dtype=np.int8)
    assert option_counts(answers, 3).tolist() == [[2, 0, 1], [1, 2, 0]]
