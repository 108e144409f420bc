"""Experiments, elicitation, the ceiling, checkpoint names and data export with values the shipped configs
never use (issue 23): the documented defaults (``eval_demo_count: null`` / ``all``), real catalogs,
protocol overrides."""

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.parametrize("count", [None, "all"])
def test_ceiling_with_the_protocols_eval_demo_count(small_catalog_dir: Path, tmp_path: Path, count) -> None:
    """``--data.eval_demo_count null`` (the default) or ``all``: the ceiling reads the resolved count."""
    from baselines.bayes import bayes_predictions
    from ivr.catalog.store import load_catalog
    from ivr.catalog.synth import SynthModel
    from ivr.ceiling import bayes_views
    from ivr.data.datamodule import IVRDataModule

    dm = IVRDataModule(catalog=str(small_catalog_dir), n_per_question=1, split_size=20, split_rule="stratified",
                       eval_demo_count=count, limit_eval_people=3, cache_dir=str(tmp_path), check_tokenization=False)
    dm.setup("test")
    rows = np.asarray(dm.split.test_rows)[:3]
    views = bayes_views(dm, rows, [0, 1, 2])
    assert set(views) == set(dm.eval_views)
    resolved = dm.eval_recipe.demo_count
    assert resolved.isdigit() and int(resolved) > 0
    cat = load_catalog(small_catalog_dir)
    want = bayes_predictions(cat, SynthModel.load(small_catalog_dir), rows, {s: dm.setups[s] for s in (0, 1, 2)},
                             ["polar", "refined"], resolved, dm.hparams.seed, view="matched")
    np.testing.assert_array_equal(views["matched"].pred, want.pred)
