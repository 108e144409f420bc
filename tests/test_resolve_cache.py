"""A cached synthetic catalog from an older generator version is rebuilt, a current one reused."""

import json
from pathlib import Path

from ivr.catalog.resolve import resolve_catalog
from ivr.catalog.synth.population import GENERATOR_VERSION


def test_stale_cached_build_is_rebuilt(tmp_path: Path) -> None:
    out = resolve_catalog("synthetic:people=300,seed=3", cache_dir=tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator_version"] == GENERATOR_VERSION
    built = (out / "catalog.parquet").stat().st_mtime_ns

    assert resolve_catalog("synthetic:people=300,seed=3", cache_dir=tmp_path) == out
    assert (out / "catalog.parquet").stat().st_mtime_ns == built  # reused

    manifest["generator_version"] = GENERATOR_VERSION - 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    resolve_catalog("synthetic:people=300,seed=3", cache_dir=tmp_path)
    rebuilt = json.loads((out / "manifest.json").read_text())
    assert rebuilt["generator_version"] == GENERATOR_VERSION
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temp folders left
