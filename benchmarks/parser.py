"""Benchmark: ``parse_answer`` is linear in the reply's length (``python -m benchmarks.parser``).

A served model can reply with a megabyte of whitespace, digits or nested braces. For each kind of
pathological reply this prints the CPU time at 100 KB and at 1 MB and their ratio: about 10 for a
linear parser, about 100 for a quadratic one (the previous parser took 16.8 s on 20,000 spaces).
"""

from __future__ import annotations

import argparse
import time

from ivr.zero_shot.parser import parse_answer

GOOD = '{"NSG1": {"choice": "NSG1_s2"}, "NSG2": {"choice": "NSG2_s1"}}'


def replies(n: int) -> dict[str, str]:
    """Pathological replies of about ``n`` characters."""
    return {
        "whitespace then JSON": " " * n + GOOD,
        "whitespace inside a value": '{"NSG1": {"choice": "' + " " * n + '"}, "NSG2": "NSG2_s1"}',
        "NSG key then whitespace": "NSG1" + " " * n + "x",
        "digits": "7" * n,
        "one huge number": '{"NSG1": {"choice": ' + "9" * n + '}, "NSG2": "NSG2_s1"}',
        "nested objects": '{"a":' * (n // 5) + GOOD + "}" * (n // 5),
        "open braces": "{" * n,
        "empty objects": "{}" * (n // 2),
        "open quotes": '{"' * (n // 2),
    }


def cpu_seconds(reply: str, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        parse_answer(reply, [2, 2])
    return (time.process_time() - start) / repeat


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=1_000_000, help="large reply size in characters (default 1 MB)")
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args(argv)
    small, large = replies(args.size // 10), replies(args.size)
    print(f"{'reply':28s} {'100 KB s':>10s} {'1 MB s':>10s} {'ratio':>7s}  (linear ~10, quadratic ~100)")
    for name in large:
        a, b = cpu_seconds(small[name], args.repeat), cpu_seconds(large[name], args.repeat)
        print(f"{name:28s} {a:10.4f} {b:10.4f} {b / max(a, 1e-6):7.1f}")


if __name__ == "__main__":
    main()
