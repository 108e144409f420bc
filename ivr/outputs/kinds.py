"""The kinds of output folder ivr writes, and the marker file that records one in a folder."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

MARKER = ".ivr-output.json"
LOCK = ".ivr-lock.json"  # ivr.locks.RunLock's file (never counted as a user's file)
SPECIAL_FILES = {MARKER, LOCK}


@dataclass(frozen=True)
class OutputKind:
    """A kind of output folder.

    Attributes:
        name: the kind written into the marker (``"baselines"``).
        command: the command that writes it (for messages).
        patterns: glob patterns (relative paths) of every file this kind writes; inside a *marked*
            folder of a resumable kind (whose marker does not list files) they say which files are
            ivr's. They never make an unmarked folder ivr's.
        in_place: the command writes file by file into the folder itself (:func:`claim_output`, a
            checkpoint folder) rather than replacing the whole folder (:func:`write_output`), so only
            the folder itself, not its parent, must be writable.
    """

    name: str
    command: str
    patterns: tuple[str, ...] = ()
    in_place: bool = field(default=False, kw_only=True)

    def owns(self, rel: str) -> bool:
        return any(fnmatch.fnmatchcase(rel, p) for p in self.patterns)


_HF_FILES = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "*.bin",
    "adapter_config.json",
    "tokenizer*",
    "special_tokens_map.json",
    "vocab.*",
    "merges.txt",
    "chat_template.*",
    "*.model",
    "added_tokens.json",
    "statement_tokenizer.json",
    "README.md",
)
KINDS: dict[str, OutputKind] = {
    k.name: k
    for k in (
        OutputKind(
            "catalog",
            "python -m ivr.catalog build/synth",
            ("catalog.parquet", "manifest.json", "codebook.json", "synth_model.npz"),
        ),
        OutputKind(
            "baselines", "python -m baselines", ("table.txt", "table.csv", "table.json", "sweep.csv", "plots/*.png")
        ),
        OutputKind(
            "evaluate",
            "python -m ivr.evaluate / ivr.fit",
            ("table.txt", "table.csv", "table.json", "*_report.json", "*_predictions.npz", "*_per_group.png"),
        ),
        OutputKind("export", "python -m ivr.export", _HF_FILES),
        OutputKind(
            "zero_shot",
            "python -m ivr.zero_shot",
            ("responses.jsonl", "results.json", "table14.md", "figure2.png", "*_predictions.npz", "config.yaml"),
            in_place=True,
        ),
        # a list run (--models): one zero_shot output per model in a sub-folder, and the combined report
        OutputKind(
            "zero_shot_models",
            "python -m ivr.zero_shot --models",
            (
                "results.json",
                "table14.md",
                "table2.md",
                "figure2.png",
                "config.yaml",
                "*/.ivr-output.json",
                "*/responses.jsonl",
                "*/results.json",
                "*/table14.md",
                "*/figure2.png",
                "*/*_predictions.npz",
                "*/config.yaml",
            ),
            in_place=True,
        ),
        OutputKind(
            "experiment",
            "python -m ivr.experiment",
            (
                "table.csv",
                "table.json",
                "table.txt",
                "figure*.png",
                "published.csv",
                "experiment.json",
                "runs/*.json",
                "models/*.ckpt",
                "per_group/*.png",
            ),
            in_place=True,
        ),
        OutputKind(
            "checkpoints",
            "python -m ivr.fit",
            (
                "best-*.ckpt",
                "last*.ckpt",
                "*.ckpt/*",
                "*.ckpt/**/*",
                "*.partial",
                "*.partial/*",
                "*.ckpt.old/*",
                "*.ckpt.old",
                "run.json",
            ),
            in_place=True,
        ),
        OutputKind("output", "ivr"),  # a folder written through ivr.catalog.store.atomic_dir without a kind
        OutputKind("statement_tokenizer", "ivr.data.statement_tokenizer", _HF_FILES + ("statement_vocab.json",)),
    )
}


def output_kind(kind: str | OutputKind) -> OutputKind:
    """The registered :class:`OutputKind` of a name (a new kind may be passed as an object)."""
    if isinstance(kind, OutputKind):
        return kind
    if kind not in KINDS:
        raise KeyError(f"unknown output kind {kind!r}; register it in ivr.outputs.KINDS")
    return KINDS[kind]


def register_kind(kind: OutputKind) -> OutputKind:
    """Add a kind (for commands outside this module, e.g. a new experiment type)."""
    KINDS[kind.name] = kind
    return kind


def known_kind(name: str) -> OutputKind | None:
    """The kind a marker names (``"experiment:demo_count"`` -> the experiment kind), or None."""
    if name in KINDS:
        return KINDS[name]
    base = name.split(":", 1)[0]  # e.g. "experiment:demo_count" -> the experiment patterns
    return KINDS.get(base)
