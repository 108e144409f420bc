"""Export a reasoner checkpoint as a Hugging Face folder: ``python -m ivr.export --ckpt_path CKPT --out DIR``.

Reads a ``.ckpt`` file or an FSDP2 distributed checkpoint folder (consolidated on CPU in one
process) and writes a folder that ``transformers`` and vLLM load: the full model with LoRA merged in
(``--merge true``, the default) or the adapter alone (``--merge false``); ``--tokenizer_dir`` copies
the tokenizer beside the weights. ``--out`` must be a new folder or an earlier export.
"""

from __future__ import annotations

import sys
from typing import Any

from ivr.cli import COMMON_ALIASES, Alias, add_output_arguments, apply_aliases, entry_point, make_parser, run

PROG = "python -m ivr.export"
DEFAULT_OUT = "runs/export"
ALIASES = (*COMMON_ALIASES, Alias("--ckpt", "--ckpt_path"))


def build_parser() -> Any:
    p = make_parser(PROG, __doc__.split("\n")[0])
    p.add_argument("--ckpt_path", type=str, required=True, help="reasoner checkpoint (.ckpt or FSDP2 folder)")
    p.add_argument(
        "--merge",
        type=bool,
        default=True,
        nargs="?",
        const=True,
        help="merge LoRA adapters into the base weights (false: write the adapter only)",
    )
    p.add_argument("--tokenizer_dir", type=str | None, default=None, help="tokenizer folder to copy beside the weights")
    p.add_argument("--dtype", type=str | None, default=None, help="cast the saved weights, e.g. bfloat16")
    add_output_arguments(p, DEFAULT_OUT, "export folder")
    return p


def main(argv: list[str] | None = None) -> int:
    from ivr.model.export import export_hf

    argv = apply_aliases(list(sys.argv[1:] if argv is None else argv), ALIASES, PROG)
    cfg = build_parser().parse_args(argv)
    out = export_hf(
        cfg.ckpt_path,
        cfg.out,
        merge=cfg.merge,
        tokenizer_dir=cfg.tokenizer_dir,
        dtype=cfg.dtype,
        overwrite=cfg.overwrite,
    )
    print(f"wrote {out}")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract."""
    return run(main, argv)


if __name__ == "__main__":
    entry_point(main)
