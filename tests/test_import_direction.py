"""Import direction (CONTRACTS.md §1): a lower layer never imports a higher one, no module imports an entry point.

Every module of ``ivr/``, ``baselines/``, ``callbacks/`` and ``benchmarks/`` is parsed with :mod:`ast` (imports
inside functions included: a lazy import is still a dependency) and each import of a project module is checked
against the layer table below. The checker is run on the real tree and on small planted trees, so a violation
it misses fails too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ivr", "baselines", "callbacks", "benchmarks")

#: The layers, lowest first. A module belongs to the layer of the longest prefix naming it; a module may import
#: its own layer and the layers below, and no module but a benchmark imports an entry point. Entry points and
#: benchmarks are found by name (see ``layer_of``); benchmarks may import anything and nothing imports them.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "core",
        (
            "ivr",
            "ivr.errors",
            "ivr.writable",
            "ivr.outputs",
            "ivr.locks",
            "ivr.checkpoints",
            "ivr.progress",
            "ivr.paper",
        ),
    ),
    ("catalog", ("ivr.catalog",)),
    # the numpy-only survey protocol (probes, splits, demonstrations, conventions, selection, resolution)
    ("protocol", ("ivr.protocol",)),
    ("settings", ("ivr.settings", "ivr.cli")),
    ("pipeline", ("ivr.data", "ivr.metrics", "ivr.model", "ivr.predict", "ivr.ceiling")),
    ("applications", ("ivr.zero_shot", "ivr.elicit", "ivr.examples")),
    ("experiment", ("ivr.experiment",)),
    ("plug-ins", ("baselines", "callbacks")),
    ("entry points", ()),
    ("benchmarks", ("benchmarks",)),
)
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}
#: the commands that are modules of their own (every ``__main__`` module and every script with a
#: ``if __name__ == "__main__":`` block is an entry point too)
ENTRY_POINTS = ("ivr.fit", "ivr.evaluate", "ivr.export")
#: optional packages the library reaches only from inside a function (CONTRACTS.md §1)
PLUG_INS = ("baselines", "callbacks")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    entry: bool  # a command: imported by no other module


@dataclass(frozen=True)
class Import:
    target: str
    line: int
    lazy: bool  # inside a function body


def _name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _has_main_block(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            left, right = node.test.left, node.test.comparators
            if (
                isinstance(left, ast.Name)
                and left.id == "__name__"
                and right
                and isinstance(right[0], ast.Constant)
                and right[0].value == "__main__"
            ):
                return True
    return False


def is_benchmark(name: str) -> bool:
    """``benchmarks.*`` and every ``bench_*`` script, wherever it still lives (``ivr/data/bench.py`` too)."""
    last = name.rsplit(".", 1)[-1]
    return (
        name.split(".")[0] == "benchmarks" or last.startswith("bench_") or name in ("ivr.data.bench", "baselines.bench")
    )


def modules(root: Path) -> dict[str, tuple[Module, ast.Module]]:
    """Every project module under ``root``: name -> (module, parsed source)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")) if (root / package).is_dir() else ():
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            name = _name(path, root)
            entry = name.endswith(".__main__") or name in ENTRY_POINTS or _has_main_block(tree)
            found[name] = (Module(name, path, entry and not is_benchmark(name)), tree)
    return found


def layer_of(module: Module) -> str:
    if is_benchmark(module.name):
        return "benchmarks"
    if module.entry:
        return "entry points"
    best, layer = -1, None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module.name == prefix or module.name.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), name
    if layer is None:
        raise AssertionError(f"{module.path}: module {module.name} is in no layer; add it to LAYERS")
    return layer


def imports(module: Module, tree: ast.Module, known: set[str]) -> list[Import]:
    """The project modules ``module`` imports, with their line and whether the import is inside a function."""
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    out: list[Import] = []

    def target(name: str) -> str | None:
        while name and name not in known:  # ``from ivr.x import y``: the module y if it is one, else ivr.x
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    head = ".".join(base + ([child.module] if child.module else []))
                else:
                    head = child.module or ""
                names = [f"{head}.{a.name}" for a in child.names]
            else:
                visit(child, inner)
                continue
            for name in names:
                if name.split(".")[0] in PACKAGES and (found := target(name)) is not None:
                    out.append(Import(found, child.lineno, lazy))

    visit(tree, False)
    return out


def violations(root: Path, found: dict[str, tuple[Module, ast.Module]] | None = None) -> list[str]:
    """``file:line: why`` for every import against the layering, sorted (``found``: :func:`modules` of ``root``)."""
    found = modules(root) if found is None else found
    known = set(found)
    problems = []
    for module, tree in found.values():
        mine = layer_of(module)
        rel = module.path.relative_to(root)
        for imp in imports(module, tree, known):
            other = found[imp.target][0]
            theirs = layer_of(other)
            where = f"{rel}:{imp.line}: {module.name} ({mine}) imports {other.name} ({theirs})"
            plug_in = other.name.split(".")[0] in PLUG_INS
            if other.entry and other.name != module.name and mine != "benchmarks":
                problems.append(
                    f"{where}: an entry point is imported by no module; move what is shared into the library"
                )
            elif theirs == "benchmarks" and mine != "benchmarks":
                problems.append(f"{where}: nothing outside benchmarks/ imports a benchmark")
            elif plug_in and module.name.split(".")[0] == "ivr" and not imp.lazy:
                problems.append(f"{where}: ivr/ reaches the plug-ins only inside a function (CONTRACTS.md §1)")
            elif RANK[theirs] > RANK[mine] and not (plug_in and imp.lazy):
                problems.append(f"{where}: a lower layer imports a higher one")
    return sorted(set(problems))


def test_the_tree_follows_the_layering() -> None:
    found = modules(ROOT)
    assert len(found) > 150  # the checker sees the real tree, and every module has a layer
    layers = {layer_of(m) for m, _ in found.values()}
    assert {"core", "catalog", "protocol", "settings", "pipeline", "applications", "entry points", "plug-ins"} <= layers
    problems = violations(ROOT, found)
    assert not problems, "imports against CONTRACTS.md §1:\n" + "\n".join(problems)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:  # every folder a package
        for folder in [root / package, *(root / package).rglob("*")] if (root / package).exists() else []:
            if folder.is_dir() and not (folder / "__init__.py").exists():
                (folder / "__init__.py").write_text("")
    return root


def test_planted_violations_are_named_with_file_and_line(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "ivr/errors.py": "X = 1\n",
            "ivr/catalog/store.py": "from ivr.errors import X\n\n\ndef f():\n    from ivr.data.datamodule import DM\n",
            "ivr/data/datamodule.py": "from ivr.catalog.store import f\nDM = 1\n",
            "ivr/protocol/probes.py": "import numpy\n\nfrom .. import metrics\n",  # protocol -> pipeline, relative
            "ivr/metrics/__init__.py": "from ivr.protocol.probes import numpy\n",
            "ivr/model/module.py": "import callbacks.progress\n\n\ndef g():\n    from baselines import run\n",
            "ivr/evaluate.py": "from ivr.metrics import numpy\n",
            "ivr/fit.py": "def main():\n    from ivr.evaluate import numpy\n",
            "ivr/elicit/__main__.py": "from ivr.experiment.config import c\n",  # an entry point may import the library
            "ivr/experiment/config.py": "c = 1\n",
            "ivr/zero_shot/run.py": "from ivr.experiment import config\n",
            "ivr/model/bench_speed.py": "from ivr.fit import main\n",  # benchmarks are outside: they may import all
            "ivr/predict/report.py": "def h():\n    from ivr.model import bench_speed\n",
            "callbacks/progress.py": "from ivr.metrics import numpy\n",
            "baselines/run.py": "from ivr.experiment.config import c\n",
        },
    )
    assert violations(root) == [
        "ivr/catalog/store.py:5: ivr.catalog.store (catalog) imports ivr.data.datamodule (pipeline): "
        "a lower layer imports a higher one",
        "ivr/fit.py:2: ivr.fit (entry points) imports ivr.evaluate (entry points): an entry point is imported by "
        "no module; move what is shared into the library",
        "ivr/model/module.py:1: ivr.model.module (pipeline) imports callbacks.progress (plug-ins): ivr/ reaches "
        "the plug-ins only inside a function (CONTRACTS.md §1)",
        "ivr/predict/report.py:2: ivr.predict.report (pipeline) imports ivr.model.bench_speed (benchmarks): "
        "nothing outside benchmarks/ imports a benchmark",
        "ivr/protocol/probes.py:3: ivr.protocol.probes (protocol) imports ivr.metrics (pipeline): "
        "a lower layer imports a higher one",
        "ivr/zero_shot/run.py:1: ivr.zero_shot.run (applications) imports ivr.experiment.config (experiment): "
        "a lower layer imports a higher one",
    ]


def test_a_violation_planted_in_a_copy_of_the_real_tree_fails(tmp_path: Path) -> None:
    import shutil

    for package in PACKAGES:
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    report = tmp_path / "ivr/metrics/report.py"
    report.write_text(report.read_text() + "\n\ndef _planted():\n    from ivr.evaluate import main\n")
    lines = len(report.read_text().splitlines())
    assert violations(tmp_path) == [
        f"ivr/metrics/report.py:{lines}: ivr.metrics.report (pipeline) imports ivr.evaluate (entry points): "
        "an entry point is imported by no module; move what is shared into the library"
    ]
