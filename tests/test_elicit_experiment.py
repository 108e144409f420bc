"""The elicitation experiment on a small synthetic catalog: every (scorer, policy, k) row, and resuming."""

import numpy as np

from ivr.experiment.__main__ import main


def test_elicitation_quick_runs_and_resumes(small_catalog_dir, tmp_path):
    out = tmp_path / "elicitation"
    argv = ["elicitation", "--config", "configs/experiments/elicitation.yaml", "--out", str(out), "--progress", "false",
            "--data.catalog", str(small_catalog_dir), "--data.split_rule", "stratified", "--data.split_size", "100",
            "--data.limit_eval_people", "4", "--bootstrap", "20", "--ks", "[0, 3, 8]", "--group_k", "3",
            "--policies", "[random, fixed, bayes-eig, neighbours]", "--scorers", "[bayes, resemble]",
            "--pool", "120", "--fixed_people", "200", "--n_neighbours", "8"]
    first = main(argv)
    table = first.table
    assert len(table) == 2 * 4 * 3 and (out / "figure.png").is_file()
    for scorer in ("bayes", "resemble"):  # no question asked yet: every policy scores the same
        assert table.loc[(scorer, slice(None), 0), "all"].nunique() == 1
    bayes = table.loc["bayes"]
    assert (bayes.loc[("bayes-eig", 8), "answered"] <= 8) and bayes.loc[("random", 8), "answered"] > 0
    assert "sigma_INEQUITY" in (out / "table.txt").read_text()
    seq = first.results["seq_bayes-eig"]["sequences"]["0"]
    assert all(len(s) == 8 and len(set(s)) == 8 for s in seq)
    # a second start reuses every run; changing ks recomputes only the scores
    second = main(argv)
    assert second.ran == [] and len(second.skipped) == len(first.ran)
    np.testing.assert_allclose(second.table["all"].to_numpy(float), table["all"].to_numpy(float))
    third = main([a if a != "[0, 3, 8]" else "[0, 3, 8, 5]" for a in argv])
    assert third.ran and all(r.startswith("seq_") is False for r in third.ran)
