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


def test_one_open_catalog_for_every_command(tmp_path: Path) -> None:
    """The data module, the shared --data.* settings and the catalog layer open a catalog through one function:
    the same folder (``Catalog.folder``, a synthetic spec's cached build) and, for a half-written folder, the same
    one error naming every missing file."""
    import pytest

    from ivr.catalog.resolve import open_catalog
    from ivr.data.datamodule import IVRDataModule
    from ivr.errors import InputNotFoundError
    from ivr.settings import DataSettings

    spec = "synthetic:people=300,seed=3"
    cat = open_catalog(spec, tmp_path)
    assert cat.folder == tmp_path / "synthetic-p300-s3" and len(cat) == 300
    assert DataSettings(catalog=spec, cache_dir=str(tmp_path)).open_catalog().folder == cat.folder

    half = tmp_path / "half"
    half.mkdir()
    (half / "catalog.parquet").write_bytes(b"")
    errors = []
    for opener in (
        lambda: open_catalog(str(half)),
        lambda: DataSettings(catalog=str(half)).open_catalog(),
        lambda: IVRDataModule(catalog=str(half)).setup_people(),
    ):
        with pytest.raises(InputNotFoundError) as err:
            opener()
        errors.append(str(err.value))
    assert errors == [errors[0]] * 3 and "missing manifest.json, codebook.json" in errors[0], errors
