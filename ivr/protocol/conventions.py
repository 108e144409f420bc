"""Evaluation conventions: which demonstration form goes with which probe form, and the demonstration rule.

Every figure of one printed table (the reasoner, Resemble, the Bayes ceiling) follows the same
convention, and the table header names it (:func:`convention_header`).

``eval_forms``:

* ``"matched"`` (default, the paper's Table 3): polar probes with polar demonstrations, refined
  probes with refined demonstrations. Both forms of a (person, setup) show the **same**
  demonstration questions, only their statements' form differs.
* ``"crossed"``: polar probes with refined demonstrations and refined probes with polar ones.
* ``"polar"`` / ``"refined"``: every probe with demonstrations of that form.
* ``"all"``: the four (demonstration form, probe form) combinations, as two *views* scored and
  printed one after the other: ``matched``, then ``crossed``.

Demonstration rule (``eval_demo_rule``): ``"setup"`` (default) draws a person's demonstrations
among their valid answers outside **all** probe questions of the setup, in packed and unpacked
evaluation alike, so both layouts (and zero-shot probing) show the same statements; ``"probe"`` is
the study's fine-tuned evaluation rule (only the probed question is left out, so other probes of the
setup may be shown), available for unpacked evaluation only.
"""

from __future__ import annotations

from ivr.errors import IvrError

EVAL_FORMS = ("matched", "crossed", "polar", "refined", "all")
VIEWS = ("matched", "crossed", "polar", "refined")
DEMO_RULES = ("setup", "probe")
FORM_NAMES = ("polar", "refined")


class ConventionError(IvrError, ValueError):
    """An evaluation convention that does not exist or cannot be used with the other settings."""


def check_eval_forms(value: str, flag: str = "eval_forms") -> str:
    """``value`` if it is a known convention.

    Raises:
        ConventionError: naming the flag and the accepted values.
    """
    if value not in EVAL_FORMS:
        raise ConventionError(f"{flag}={value!r}: use one of {EVAL_FORMS}")
    return value


def eval_views(eval_forms: str) -> tuple[str, ...]:
    """The views scored one after the other: ``("matched", "crossed")`` for ``"all"``, else the one."""
    check_eval_forms(eval_forms)
    return ("matched", "crossed") if eval_forms == "all" else (eval_forms,)


def demo_form_for(view: str, probe_form: int) -> int:
    """Demonstration form (0 polar, 1 refined) of a probe form under a single view."""
    if view == "matched":
        return int(probe_form)
    if view == "crossed":
        return 1 - int(probe_form)
    if view in FORM_NAMES:
        return FORM_NAMES.index(view)
    raise ConventionError(f"evaluation view {view!r}: use one of {VIEWS}")


def combinations(eval_forms: str) -> set[tuple[int, int]]:
    """The (demonstration form, probe form) pairs a convention evaluates."""
    return {(demo_form_for(v, f), f) for v in eval_views(eval_forms) for f in (0, 1)}


def view_label(view: str) -> str:
    """Short words for a view, e.g. ``polar probes <- polar demos, refined <- refined``."""
    p, r = (FORM_NAMES[demo_form_for(view, f)] for f in (0, 1))
    return f"polar probes with {p} demonstrations, refined probes with {r} ones"


def row_name(name: str, view: str, views: tuple[str, ...]) -> str:
    """A table row's name: the bare name for the first (headline) view, ``name [view]`` for later ones."""
    return name if view == views[0] else f"{name} [{view}]"


def convention_header(
    eval_forms: str, demo_count: str, demo_rule: str, n_setup_probes: int | None = None, resemble: str | None = None
) -> str:
    """The header lines naming the convention every row of a table follows.

    Args:
        eval_forms: the convention (see the module docstring).
        demo_count: evaluation demonstrations per (person, setup).
        demo_rule: ``"setup"`` or ``"probe"``.
        n_setup_probes: probes per setup, for the wording.
        resemble: what Resemble compares people on (``"non_probe"`` or ``"shown"``), when it is printed.
    """
    probes = f"the setup's {n_setup_probes} probes" if n_setup_probes else "the setup's probes"
    excluded = probes if demo_rule == "setup" else "the probed question only (the study's per-probe rule)"
    count = "every valid answer as a demonstration" if demo_count == "all" else f"{demo_count} demonstrations"
    lines = [f"Evaluation: {count} per person and setup, drawn outside {excluded}; eval_forms={eval_forms}:"]
    lines += [f"  [{v}] {view_label(v)}" for v in eval_views(eval_forms)]
    if resemble is not None:
        over = (
            "the person's shown demonstrations"
            if resemble == "shown"
            else "every question that is not a probe of the setup"
        )
        lines += [
            f"Resemble compares people in the demonstration form over {over};",
            "  Global majority and Random use no demonstrations.",
        ]
    return "\n".join(lines)
