"""``python -m ivr.experiment NAME --config configs/experiments/NAME.yaml [--quick] [--out DIR] [--KEY VALUE ...]``.

The project's CLI convention: ``--config FILE``, ``--print_config`` (print the merged, checked
settings and stop), ``--section.key value`` overrides at any depth (``--data.split_size 40``,
``--base.trainer.max_steps 2``; values are YAML, booleans ``true``/``false``). ``--quick true``
merges the config's ``quick:`` section (a small population / fewer runs that finish in minutes on a
CPU). Every key is checked against the experiment's typed settings: an unknown key is an error with
a "did you mean". Running the same command again reuses every finished run in the output folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from ivr.cli import COMMON_ALIASES, RUNS_ROOT, Alias, apply_aliases, did_you_mean, entry_point, run
from ivr.errors import ConfigError

PROG = "python -m ivr.experiment"
#: the command's own flags (everything else is a setting); the value is whether it is a boolean
FLAGS = {
    "--config": False,
    "--quick": True,
    "--out": False,
    "--paper": False,
    "--progress": True,
    "--overwrite": True,
    "--print_config": True,
}
ALIASES = (*COMMON_ALIASES, Alias("--set", "--KEY VALUE"))
_BOOL = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def usage() -> str:
    from ivr.experiment import EXPERIMENTS

    return (
        f"usage: {PROG} NAME [--config FILE] [--quick true] [--out DIR] [--paper FILE] [--progress false] "
        f"[--overwrite true] [--print_config] [--KEY VALUE ...]\n  NAME: one of {', '.join(sorted(EXPERIMENTS))}\n"
        f"  {PROG} NAME --help lists NAME's settings"
    )


def split_args(argv: list[str]) -> tuple[str, dict[str, Any], list[str]]:
    """(experiment name, the command's own flags, ``KEY=VALUE`` overrides) of a command line.

    Raises:
        ConfigError: no experiment name, or a flag without a value.
    """
    name, flags, overrides = "", {}, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            if name:
                raise ConfigError(f"{PROG}: unexpected argument {arg!r} (settings are --KEY VALUE); see {PROG} --help")
            name = arg
            i += 1
            continue
        key, eq, value = arg.partition("=")
        is_bool = FLAGS.get(key)
        if is_bool:  # a bare boolean flag means true
            nxt = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            if eq or nxt.lower() in _BOOL:
                flags[key] = _BOOL.get(nxt.lower())
                if flags[key] is None:
                    raise ConfigError(f"{key} {nxt!r}: use true or false")
                i += 1 if eq else 2
            else:
                flags[key] = True
                i += 1
            continue
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise ConfigError(f"{PROG}: {key} needs a value ({key} VALUE); see {PROG} --help")
            value = argv[i + 1]
            i += 2
        else:
            i += 1
        if key in FLAGS:
            flags[key] = value
        else:
            overrides.append(f"{key[2:]}={value}")
    return name, flags, overrides


def settings_help(name: str) -> str:
    """The experiment's settings with their defaults (``--help``)."""
    from ivr.experiment import experiment_class

    cls = experiment_class(name)
    lines = [usage(), "", f"settings of {name} (YAML keys; each also a --KEY VALUE flag):"]
    if cls.settings is not None:
        from dataclasses import asdict

        lines.append(yaml.safe_dump(asdict(cls.settings()), sort_keys=False).rstrip())
        doc = (cls.settings.__doc__ or "").strip()
        if doc:
            lines += ["", doc]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Any:
    """Parse the command line and run the experiment; returns its outcome (an :class:`Outcome`).

    Raises:
        ConfigError: a bad flag, key or value (one ``error:`` line through :func:`ivr.cli.run`).
    """
    from ivr.experiment import EXPERIMENTS, experiment_class
    from ivr.experiment.config import load_config, validate_config
    from ivr.experiment.published import load_published
    from ivr.experiment.runner import run_experiment

    argv = apply_aliases(list(sys.argv[1:] if argv is None else argv), ALIASES, PROG)
    if any(a in ("-h", "--help") for a in argv):
        names = [a for a in argv if not a.startswith("-")]
        print(settings_help(names[0]) if names and names[0] in EXPERIMENTS else usage())
        return 0
    name, flags, overrides = split_args(argv)
    if not name:
        raise ConfigError(f"{PROG}: give the experiment NAME, one of {sorted(EXPERIMENTS)}; see {PROG} --help")
    cls = experiment_class(name)
    config_path = flags.get("--config")
    if config_path is None and Path(f"configs/experiments/{name}.yaml").is_file():
        config_path = f"configs/experiments/{name}.yaml"
    quick = bool(flags.get("--quick", False))
    config = load_config(config_path, quick=quick, overrides=overrides)
    if cls.settings is not None:
        try:
            config = validate_config(config, cls.settings, f"{PROG} {name}", config_path)
        except ConfigError as err:  # name the command's own flags too when a key is close to one
            text = str(err)
            key = next((o.partition("=")[0] for o in overrides if f"'{o.partition('=')[0]}'" in text), None)
            hint = did_you_mean(f"--{key}", list(FLAGS)) if key and "did you mean" not in text else ""
            head, sep, tail = text.rpartition("; see ")
            raise ConfigError(f"{head}{hint}{sep}{tail}" if sep else text + hint) from None
        cls.check_config(config)
    if flags.get("--print_config"):
        # validated values are typed (jsonargparse's PositiveInt ...), which safe_dump refuses: dump them as plain data
        print(yaml.safe_dump(json.loads(json.dumps(config, default=str)), sort_keys=False, allow_unicode=True).rstrip())
        return 0
    out = Path(flags.get("--out") or Path(RUNS_ROOT) / "experiments" / (name + ("_quick" if quick else "")))
    from dataclasses import replace

    from ivr.outputs import KINDS, claim_output, register_kind

    kind = register_kind(replace(KINDS["experiment"], name=f"experiment:{name}", command=f"{PROG} {name}"))
    claim_output(out, kind, bool(flags.get("--overwrite", False)))
    exp = cls(config, out, load_published(flags.get("--paper")))
    return run_experiment(exp, progress=bool(flags.get("--progress", True)))


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract (exit status 2 and one ``error:`` line on bad input)."""
    return run(main, argv)


if __name__ == "__main__":
    entry_point(main)
