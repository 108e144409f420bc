"""``python -m ivr.bench_quality ...``: the previous name of ``python -m benchmarks.quality``.

Prints one ``deprecated:`` line on stderr and runs the benchmark with the same arguments; the module is found by
name at run time (:mod:`runpy`), so the library does not import the ``benchmarks`` package.
"""

from __future__ import annotations

import runpy
import sys

NEW = "benchmarks.quality"

if __name__ == "__main__":
    print(f"deprecated: python -m ivr.bench_quality is now python -m {NEW}; running that", file=sys.stderr, flush=True)
    runpy.run_module(NEW, run_name="__main__", alter_sys=True)
