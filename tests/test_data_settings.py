"""One schema for the ``--data.*`` keys every command shares (``ivr.settings.ProtocolSettings``): the data
module's arguments, ``DataSettings`` and the experiments' ``EvalSettings`` take each key, its default and its
check from it."""

import inspect
from dataclasses import fields

import pytest

from ivr.data.datamodule import IVRDataModule
from ivr.data.settings import DataModuleSettings
from ivr.errors import ConfigError
from ivr.experiment.bayes import EvalSettings
from ivr.settings import DataSettings, ProtocolSettings

OPENERS = {
    "DataSettings": lambda **kw: DataSettings.from_value(kw),
    "IVRDataModule": lambda **kw: IVRDataModule(**kw),
    "EvalSettings": lambda **kw: EvalSettings.from_config({"data": kw}),
}


def test_the_shared_keys_and_defaults_come_from_one_dataclass() -> None:
    shared = {f.name: f.default for f in fields(ProtocolSettings)}
    assert {"catalog", "split_size", "split_rule", "min_valid", "eval_demo_count", "seed", "cache_dir"} <= set(shared)
    module = inspect.signature(IVRDataModule).parameters
    assert list(module) == [f.name for f in fields(DataModuleSettings)]
    assert {k: module[k].default for k in shared} == shared
    assert [f.name for f in fields(DataSettings)] == [*shared, "setups"]
    assert EvalSettings().data == DataSettings()


@pytest.mark.parametrize("name", list(OPENERS))
@pytest.mark.parametrize(
    "key,value,message",
    [
        ("split_size", 0, "--data.split_size 0: out of range, use a whole number >= 1 (or null)"),
        ("min_valid", -1, "--data.min_valid -1: out of range, use a whole number >= 0 (or null)"),
        ("split_sise", 40, "data: unknown key(s) ['split_sise']; did you mean split_size?"),
    ],
)
def test_every_holder_of_the_data_keys_checks_them_alike(name: str, key: str, value: int, message: str) -> None:
    """A count out of range or an unknown key is the same one ConfigError whether the keys reach the data
    module, the shared settings or an experiment's evaluation settings (no parser in between)."""
    with pytest.raises(ConfigError) as err:
        OPENERS[name](**{key: value})
    assert str(err.value) == message
