"""The elicitation experiment on a small synthetic catalog: every (scorer, policy, k) row, and resuming."""

import json

import numpy as np

from ivr.experiment.__main__ import main

POLICIES = ("random", "fixed", "bayes-eig", "neighbours")


def argv(catalog, out, ks="[0, 3, 8]", scorers="[bayes, resemble]"):
    return [
        "elicitation",
        "--config",
        "configs/experiments/elicitation.yaml",
        "--out",
        str(out),
        "--progress",
        "false",
        "--data.catalog",
        str(catalog),
        "--data.split_rule",
        "stratified",
        "--data.split_size",
        "100",
        "--data.limit_eval_people",
        "4",
        "--bootstrap",
        "10",
        "--ks",
        ks,
        "--group_k",
        "3",
        "--policies",
        f"[{', '.join(POLICIES)}]",
        "--scorers",
        scorers,
        "--pool",
        "120",
        "--fixed_people",
        "200",
        "--n_neighbours",
        "8",
    ]


def test_elicitation_quick_runs_and_resumes(small_catalog_dir, tmp_path):
    out = tmp_path / "elicitation"
    first = main(argv(small_catalog_dir, out))
    table = first.table
    assert len(table) == 2 * 4 * 3 and (out / "figure.png").is_file()
    for scorer in ("bayes", "resemble"):  # no question asked yet: every policy scores the same
        assert table.loc[(scorer, slice(None), 0), "all"].nunique() == 1
    bayes = table.loc["bayes"]
    assert (bayes.loc[("bayes-eig", 8), "answered"] <= 8) and bayes.loc[("random", 8), "answered"] > 0
    assert "sigma_INEQUITY" in (out / "table.txt").read_text()
    scoring = {r for r in first.ran if r.startswith(("score_", "stop_"))}  # every run that scores people names n
    assert json.loads((out / "table.json").read_text())["n"] == {r: 4 for r in scoring}
    assert "n = 4 people in every row" in (out / "table.txt").read_text()
    seq = first.results["seq_bayes-eig"]["sequences"]["0"]
    assert all(len(s) == 8 and len(set(s)) == 8 for s in seq)
    # a second start reuses every run; new ks recompute only the scores (the sequences are as long as before)
    second = main(argv(small_catalog_dir, out))
    assert second.ran == [] and len(second.skipped) == len(first.ran)
    np.testing.assert_allclose(second.table["all"].to_numpy(float), table["all"].to_numpy(float))
    third = main(argv(small_catalog_dir, out, ks="[0, 3, 8, 5]", scorers="[bayes]"))
    assert sorted(third.ran) == sorted(f"score_bayes_{p}" for p in POLICIES)
