"""``python -m ivr.elicit interview (--bayes | --ckpt_path PATH) [--answers FILE] [--out DIR] [...]``.

An interactive elicitation session (:mod:`ivr.elicit.interview`). ``--bayes`` predicts with the
exact posterior of a synthetic catalog (``--data.catalog synthetic:people=N,seed=S``) and asks by
greedy expected information gain; ``--ckpt_path PATH`` predicts with a trained reasoner (same
``--data.catalog``, ``--tokenizer`` and ``--max_seq_length`` as it was trained with) and asks by
its uncertainty. ``--policy random`` asks in a seeded random order instead. The transcript goes to
``--out`` (default ``runs/interview``), written when the session ends, also after Ctrl-C. The previous
release's ``--ckpt`` is still accepted, with a deprecation note.
"""

from __future__ import annotations

import sys
from typing import Any

from ivr.cli import COMMON_ALIASES, RUNS_ROOT, Alias, add_output_arguments, apply_aliases, entry_point, make_parser
from ivr.errors import ConfigError
from ivr.settings import Count, Count0, DataSettings

PROG = "python -m ivr.elicit"
INTERVIEW_POLICIES = ("auto", "random", "bayes-eig", "reasoner")

#: Spellings of the previous release, accepted with a deprecation note.
ALIASES = (*COMMON_ALIASES, Alias("--ckpt", "--ckpt_path"))


def parser() -> Any:
    p = make_parser(f"{PROG} interview", "Ask a respondent statements one at a time and show predictions.")
    p.add_argument(
        "--bayes",
        type=bool,
        default=False,
        nargs="?",
        const=True,
        help="predict with the synthetic catalog's exact posterior",
    )
    p.add_argument("--ckpt_path", type=str | None, default=None, help="a trained reasoner's .ckpt")
    p.add_class_arguments(DataSettings, "data")
    p.add_argument(
        "--policy",
        type=str,
        default="auto",
        help="auto (bayes-eig with --bayes, reasoner with --ckpt_path), random, bayes-eig or reasoner",
    )
    p.add_argument("--setup", type=Count0, default=0, help="probe setup: its probes are predicted, never asked")
    p.add_argument("--questions", type=Count, default=20, help="questions to ask at most")
    p.add_argument(
        "--answers", type=str | None, default=None, help="scripted respondent: one option number or 'skip' per line"
    )
    p.add_argument("--show", type=Count0, default=5, help="probe predictions printed after each answer")
    p.add_argument("--top", type=Count, default=2, help="options printed per probe")
    p.add_argument("--tokenizer", type=str, default="statement", help="the reasoner's tokenizer (with --ckpt_path)")
    p.add_argument(
        "--max_seq_length", type=Count, default=16384, help="sequence budget of the reasoner (with --ckpt_path)"
    )
    add_output_arguments(p, f"{RUNS_ROOT}/interview", "transcript folder")
    return p


def build(args: Any, catalog: Any, folder: Any, probes: Any) -> tuple[Any, Any]:
    """(policy, predict) for the parsed arguments."""
    from ivr.elicit.policies import RandomPolicy

    policy_name = args.policy
    if policy_name not in INTERVIEW_POLICIES:
        raise ConfigError(f"--policy {policy_name!r}: use one of {list(INTERVIEW_POLICIES)}")
    if args.bayes:
        from ivr.elicit.bayes import BayesEIGPolicy
        from ivr.predict.bayes import load_model

        eig = BayesEIGPolicy(load_model(folder, "--bayes"))
        predict = lambda state, qs: eig.posterior.predictive([state], qs, "refined")[0]  # noqa: E731
        if policy_name == "reasoner":
            raise ConfigError("--policy reasoner needs --ckpt_path PATH (a trained reasoner)")
        policy = eig if policy_name in ("auto", "bayes-eig") else RandomPolicy(args.data.seed)
        return policy, predict
    from ivr.cli import check_model_path
    from ivr.data.datamodule import IVRDataModule
    from ivr.elicit.reasoner import ReasonerPolicy, ReasonerPredictor
    from ivr.model.export import reasoner_from_checkpoint

    if policy_name == "bayes-eig":
        raise ConfigError("--policy bayes-eig needs --bayes (a synthetic catalog's exact posterior)")
    check_model_path(args.ckpt_path, "--ckpt_path")
    module = reasoner_from_checkpoint(args.ckpt_path)
    dm = IVRDataModule(
        catalog=str(folder),
        tokenizer=args.tokenizer,
        n_per_question=1,
        max_seq_length=args.max_seq_length,
        seed=args.data.seed,
        split_size=args.data.split_size,
        split_rule=args.data.split_rule,
        cache_dir=args.data.cache_dir,
    )
    dm.setup("test")
    predictor = ReasonerPredictor(module, dm)
    predict = lambda state, qs: predictor.predict([state], [qs], "refined")[0]  # noqa: E731
    policy = ReasonerPolicy(predictor) if policy_name in ("auto", "reasoner") else RandomPolicy(args.data.seed)
    return policy, predict


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        parser().print_help()
        return 0
    if argv[:1] in (["serve"], ["export"]):  # the web interview and its transcripts (ivr.elicit.commands)
        from ivr.elicit import commands

        return commands.serve_main(argv[1:]) if argv[0] == "serve" else commands.export_main(argv[1:])
    if not argv or argv[0] != "interview":
        raise ConfigError(
            f"{PROG}: give the command 'interview', 'serve' or 'export', e.g. {PROG} interview "
            f"--bayes; see {PROG} interview --help"
        )
    args = parser().parse_args(apply_aliases(argv[1:], ALIASES, f"{PROG} interview"))
    if bool(args.bayes) == bool(args.ckpt_path):
        raise ConfigError(f"{PROG} interview: give exactly one of --bayes (synthetic catalog) or --ckpt_path PATH")
    from ivr.catalog.resolve import open_catalog
    from ivr.elicit.interview import Interview, scripted_answers
    from ivr.outputs import OutputKind, check_output, register_kind, write_output

    kind = register_kind(OutputKind("interview", f"{PROG} interview", ("transcript.json", "transcript.txt")))
    check_output(args.out, kind, bool(args.overwrite))  # before anyone answers anything
    answers = scripted_answers(args.answers) if args.answers else None  # the whole file, checked up front
    catalog = open_catalog(args.data.catalog, args.data.cache_dir)
    folder = catalog.folder
    every = DataSettings.from_value(args.data).protocol(catalog).setups(catalog.codebook)
    if args.setup >= len(every):
        raise ConfigError(
            f"--setup {args.setup}: out of range, the catalog's protocol has setups 0 to {len(every) - 1} "
            "(--data.n_setups sets how many there are)"
        )
    probes = every[args.setup]
    policy, predict = build(args, catalog, folder, probes)
    session = Interview(catalog.codebook, policy, predict, probes, args.setup, args.show, args.top)
    try:
        session.run(answers, args.questions)
    finally:  # whatever ended the session (Ctrl-C, end of input, a bad scripted line), keep what was said
        write_output(args.out, kind, session.save, bool(args.overwrite))
        print(f"[interview] {len(session.turns)} answer(s); transcript in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    entry_point(main)
