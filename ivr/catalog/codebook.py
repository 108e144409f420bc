"""Data-driven survey codebooks: questions, statement options, demographics.

A codebook is one YAML (or JSON) file. It describes, for every value question, the raw answer
codes it accepts and two statement forms: *refined* (one statement per option) and *polar*
(options grouped into coarser statements). Demographic questions map codes to values that fill a
statement template and, optionally, to the groups used for per-group metrics. See the README's
"Bring your own survey" section for the file format with a worked example.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ivr.errors import IvrError

FORMS = ("polar", "refined")
BUILTIN_SURVEYS = ("wvs7",)
#: Codebooks whose questions without an ``ordered:`` key take it from their WVS ``type`` name
#: (graded items: ``scale_*`` and ``mc_2``-``mc_5``); every other codebook defaults to unordered.
WVS_CODEBOOKS = ("wvs7", "wvs7_published")
WVS_ORDERED_TYPES = ("scale", "mc_2", "mc_3", "mc_4", "mc_5")
#: What a code outside a question's ``codes`` (or a demographic's ``values``) and its ``missing_codes`` is:
#: ``error`` (the default: the build stops naming it) or ``missing`` (counted as missing in the build report).
UNLISTED_CODES = ("error", "missing")
#: Keys of a codebook's optional ``protocol:`` section (resolved by :mod:`ivr.protocol.resolve`; each is
#: also a ``--data.KEY`` flag of every entry point).
PROTOCOL_KEYS = (
    "n_setups",
    "probes_per_category",
    "probes_per_setup",
    "min_valid",
    "eval_demo_count",
    "demo_count",
    "split_rule",
    "split_size",
)


class CodebookError(IvrError, ValueError):
    """A codebook file is malformed; the message names the file and the offending entry."""


@dataclass(frozen=True)
class Option:
    """One statement option of a question: the raw codes it covers and its statement."""

    codes: tuple[int, ...]
    statement: str


@dataclass(frozen=True)
class Question:
    """A value question with its refined and polar statement options."""

    id: str
    category: str
    type: str
    codes: tuple[int, ...]
    refined: tuple[Option, ...]
    polar: tuple[Option, ...]
    text: str = ""
    missing_codes: tuple[int, ...] = ()
    ordered: bool = False
    probe: bool = True

    def options(self, form: str) -> tuple[Option, ...]:
        """The options of one form ("polar" or "refined")."""
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r}; expected one of {FORMS}")
        return self.polar if form == "polar" else self.refined

    def statements(self, form: str) -> list[str]:
        return [o.statement for o in self.options(form)]

    def code_to_index(self, form: str) -> dict[int, int]:
        """Raw answer code -> option index in ``form``."""
        return {c: i for i, o in enumerate(self.options(form)) for c in o.codes}


@dataclass(frozen=True)
class Demographic:
    """A demographic question: raw code -> value, a statement template and metric groups.

    Several demographics may read the same survey column (continent is derived from country).
    """

    id: str
    column: str
    name: str
    template: str
    values: dict[int, str]
    groups: dict[str, str] | None = None
    dimension: str | None = None
    missing_codes: tuple[int, ...] = ()

    def statement(self, code: int) -> str | None:
        """The natural-language statement for a raw code, or None when the code is not valid."""
        value = self.values.get(int(code))
        return None if value is None else self.template.format(value=value)

    def group(self, code: int) -> str | None:
        """The metric group of a raw code (the value itself unless ``groups`` regroups it)."""
        value = self.values.get(int(code))
        if value is None:
            return None
        return self.groups.get(value, value) if self.groups else value


@dataclass(frozen=True)
class Codebook:
    """A whole survey codebook; build it with :func:`load_codebook`."""

    name: str
    categories: tuple[str, ...]
    questions: tuple[Question, ...]
    demographics: tuple[Demographic, ...]
    roles: dict[str, str] = field(default_factory=dict)
    source: str = ""
    protocol: dict[str, Any] = field(default_factory=dict)
    missing_codes: tuple[int, ...] = ()
    unlisted_codes: str = "error"

    @cached_property
    def question_ids(self) -> list[str]:
        return [q.id for q in self.questions]

    @cached_property
    def question_index(self) -> dict[str, int]:
        return {q.id: i for i, q in enumerate(self.questions)}

    @cached_property
    def demographic_columns(self) -> list[str]:
        """Distinct raw survey columns the demographics read, in first-use order."""
        return list(dict.fromkeys(d.column for d in self.demographics))

    @cached_property
    def dimensions(self) -> dict[str, Demographic]:
        """Per-group metric dimension name -> the demographic that defines it."""
        return {d.dimension: d for d in self.demographics if d.dimension}

    def demographic(self, demo_id: str) -> Demographic:
        for d in self.demographics:
            if d.id == demo_id:
                return d
        raise KeyError(f"codebook {self.name!r} has no demographic {demo_id!r}")

    def question(self, qid: str) -> Question:
        return self.questions[self.question_index[qid]]

    def n_options(self, form: str) -> list[int]:
        return [len(q.options(form)) for q in self.questions]

    @property
    def id_column(self) -> str:
        return self.roles.get("person_id", "person_id")

    def to_dict(self) -> dict[str, Any]:
        """The codebook as plain data in the YAML file format (round-trips through load)."""
        return {
            "name": self.name,
            "roles": dict(self.roles),
            "categories": list(self.categories),
            "questions": [
                {
                    "id": q.id,
                    "category": q.category,
                    "type": q.type,
                    "codes": list(q.codes),
                    **({"text": q.text} if q.text else {}),
                    **({"missing_codes": list(q.missing_codes)} if q.missing_codes else {}),
                    "ordered": q.ordered,
                    **({} if q.probe else {"probe": False}),
                    **{
                        f: [{"codes": list(o.codes), "statement": o.statement} for o in q.options(f)]
                        for f in ("refined", "polar")
                    },
                }
                for q in self.questions
            ],
            "demographics": [
                {
                    "id": d.id,
                    "column": d.column,
                    "name": d.name,
                    "template": d.template,
                    "values": {int(k): v for k, v in d.values.items()},
                    **({"groups": dict(d.groups)} if d.groups else {}),
                    **({"dimension": d.dimension} if d.dimension else {}),
                    **({"missing_codes": list(d.missing_codes)} if d.missing_codes else {}),
                }
                for d in self.demographics
            ],
            **({"missing_codes": list(self.missing_codes)} if self.missing_codes else {}),
            **({"unlisted_codes": self.unlisted_codes} if self.unlisted_codes != "error" else {}),
            **({"protocol": dict(self.protocol)} if self.protocol else {}),
        }

    @cached_property
    def hash(self) -> str:
        """A content hash (sha256 of the canonical JSON form), recorded in catalog manifests.

        Left out are the keys that say how a survey is read or evaluated, not what its statements and
        options are (``protocol``, ``missing_codes``, ``unlisted_codes``, ``ordered``, ``probe``), so
        editing them keeps catalogs and statement tokenizers valid.
        """
        data = {k: v for k, v in self.to_dict().items() if k not in _UNHASHED}
        data["questions"] = [{k: v for k, v in q.items() if k not in _UNHASHED} for q in data["questions"]]
        data["demographics"] = [{k: v for k, v in d.items() if k not in _UNHASHED} for d in data["demographics"]]
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


_UNHASHED = ("protocol", "missing_codes", "unlisted_codes", "ordered", "probe")


def builtin_codebook_path(name: str) -> Path:
    """Path of a codebook shipped inside the package (e.g. ``wvs7``)."""
    if name not in BUILTIN_SURVEYS:
        raise CodebookError(
            f"unknown survey {name!r}: built-in surveys are {', '.join(BUILTIN_SURVEYS)}; "
            "pass --codebook FILE for your own survey"
        )
    return Path(str(resources.files("ivr.catalog") / "codebooks" / f"{name}.yaml"))


def load_codebook(spec: str | Path) -> Codebook:
    """Load and validate a codebook.

    Args:
        spec: a built-in survey name (``"wvs7"``), a codebook YAML/JSON file, or a folder holding
            the published IndieValueCatalog metadata jsonl files.

    Returns:
        The validated :class:`Codebook`.

    Raises:
        CodebookError: naming the file and the offending question, option or code.
    """
    spec_str = str(spec)
    if spec_str in BUILTIN_SURVEYS:
        path = builtin_codebook_path(spec_str)
    else:
        path = Path(spec)
        if path.is_dir():
            from ivr.catalog.published import load_published_codebook

            return load_published_codebook(path)
        if not path.exists():
            raise CodebookError(
                f"codebook {spec_str!r} is neither a built-in survey ({', '.join(BUILTIN_SURVEYS)}) "
                "nor an existing file"
            )
    stat = path.stat()
    return _load_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _load_file(path_str: str, mtime_ns: int, size: int) -> Codebook:
    # Cached on (path, mtime, size): codebooks are immutable and the built-in one is ~250 KB of YAML.
    path = Path(path_str)
    text = path.read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is ~10x faster, equally safe
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=loader)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise CodebookError(f"{path}: not valid YAML/JSON: {err}") from err
    return codebook_from_dict(data, source=str(path))


def codebook_from_dict(data: Any, source: str = "<dict>") -> Codebook:
    """Build a :class:`Codebook` from plain data (the file format), validating everything."""
    from ivr.catalog.validate import validate_codebook_dict

    validate_codebook_dict(data, source)
    wvs = str(data["name"]) in WVS_CODEBOOKS

    def ordered(q: dict[str, Any]) -> bool:
        if "ordered" in q:
            return bool(q["ordered"])
        return wvs and str(q.get("type", "")).startswith(WVS_ORDERED_TYPES)

    questions = tuple(
        Question(
            id=str(q["id"]),
            category=q["category"],
            type=str(q.get("type", "")),
            codes=tuple(int(c) for c in q["codes"]),
            refined=tuple(Option(tuple(int(c) for c in o["codes"]), o["statement"]) for o in q["refined"]),
            polar=tuple(Option(tuple(int(c) for c in o["codes"]), o["statement"]) for o in q["polar"]),
            text=q.get("text", ""),
            missing_codes=tuple(int(c) for c in q.get("missing_codes") or ()),
            ordered=ordered(q),
            probe=bool(q.get("probe", True)),
        )
        for q in data["questions"]
    )
    demographics = tuple(
        Demographic(
            id=str(d["id"]),
            column=str(d.get("column", d["id"])),
            name=d.get("name", d["id"]),
            template=d.get("template", "{value}"),
            values={int(k): str(v) for k, v in d["values"].items()},
            groups=d.get("groups"),
            dimension=d.get("dimension"),
            missing_codes=tuple(int(c) for c in d.get("missing_codes") or ()),
        )
        for d in data.get("demographics", []) or []
    )
    return Codebook(
        name=str(data["name"]),
        categories=tuple(data["categories"]),
        questions=questions,
        demographics=demographics,
        roles=dict(data.get("roles", {}) or {}),
        source=source,
        protocol=dict(data.get("protocol") or {}),
        missing_codes=tuple(int(c) for c in data.get("missing_codes") or ()),
        unlisted_codes=str(data.get("unlisted_codes", "error")),
    )
