"""One CPU thread for the classical imputers' numerical work.

The imputers' operations are small (trees on 2,000 people, a rank-6 trait model, an EM step of a few
seconds), so a second thread saves little wall time while the idle thread of every parallel region
spins and is billed as CPU time: on a busy machine the Big-Five latent-trait fit took 141 CPU-seconds
with torch's two threads and 6.2 with one, the same figures. :func:`one_thread` runs a block with
torch's intra-op threads, OpenMP (scikit-learn's trees) and BLAS each limited to one thread, and
restores the settings after; the results then do not depend on the machine's thread count either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one thread (torch intra-op, OpenMP, BLAS); the previous limits come back after."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)
