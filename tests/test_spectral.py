"""The spectral start: planted structure recovered, deterministic, read from the training rows only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ivr.catalog.codebook import load_codebook
from ivr.catalog.store import Catalog
from ivr.data.statement_tokenizer import make_statement_tokenizer, statement_token
from ivr.model.build import build_causal_lm
from ivr.model.spectral import spectral_start, statement_columns, statement_coordinates

CB = load_codebook("wvs7")


def _planted(n: int = 300, seed: int = 0) -> Catalog:
    """Two camps: camp A picks polar option 0 (refined 0) everywhere, camp B the last option; 10% noise."""
    rng = np.random.default_rng(seed)
    camp = rng.random(n) < 0.5
    n_opt = {f: np.array(CB.n_options(f)) for f in ("polar", "refined")}
    out = {}
    for form in ("polar", "refined"):
        ans = np.where(camp[:, None], 0, n_opt[form][None, :] - 1)
        noise = rng.random(ans.shape) < 0.1
        ans = np.where(noise, (rng.random(ans.shape) * n_opt[form]).astype(int), ans)
        out[form] = ans.astype(np.int8)
    out["polar"][:5, :3] = out["refined"][:5, :3] = -1  # some missing answers
    demos = np.full((n, len(CB.demographic_columns)), -1, dtype=np.int32)
    return Catalog(CB, np.arange(n), out["polar"], out["refined"], demos)


def test_first_axis_separates_the_planted_camps():
    cat = _planted()
    coords = statement_coordinates(cat, np.arange(len(cat)), 4)
    cols = statement_columns(cat)
    first = np.array([coords[i, 0] for i, (q, f, o) in enumerate(cols) if o == 0])
    last = np.array([coords[i, 0] for i, (q, f, o) in enumerate(cols) if o == len(CB.questions[q].options(f)) - 1])
    # camp statements sit on opposite sides of the first axis
    assert (np.sign(first) == np.sign(first[0])).mean() > 0.95
    assert (np.sign(last) == -np.sign(first[0])).mean() > 0.95


def test_deterministic_and_only_from_the_given_rows():
    cat = _planted()
    train = np.arange(0, 200)
    a = statement_coordinates(cat, train, 6)
    changed = _planted()
    changed.polar[250:] = 0  # people outside the training rows change their answers
    changed.refined[250:] = 0
    np.testing.assert_allclose(statement_coordinates(changed, train, 6), a, atol=1e-10)
    assert not np.allclose(statement_coordinates(cat, np.arange(300), 6), a, atol=1e-3)


def test_writes_input_and_output_rows_of_statement_tokens():
    cat = _planted(120)
    tok = make_statement_tokenizer(CB)
    torch.manual_seed(0)
    model = build_causal_lm(
        None,
        {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "tie_word_embeddings": False,
        },
        vocab_size=len(tok),
    )
    before = model.get_input_embeddings().weight.clone()
    dims = spectral_start(model, cat, np.arange(120), tok, std=0.02)
    assert dims == 32
    emb, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    ids = tok.convert_tokens_to_ids([statement_token(CB.questions[q].id, f, o) for q, f, o in statement_columns(cat)])
    coords = statement_coordinates(cat, np.arange(120), 32)
    expected = torch.as_tensor(coords / coords.std() * 0.02, dtype=emb.dtype)
    torch.testing.assert_close(emb[ids], expected)
    torch.testing.assert_close(head[ids], expected)
    other = sorted(set(range(len(tok))) - set(ids))  # question, demographic and special tokens untouched
    assert torch.equal(emb[other], before[other])
    assert float(emb[ids].detach().std()) == pytest.approx(0.02, rel=1e-4)
