"""Deprecated alias: ``python -m ivr.bench_quality`` runs ``python -m benchmarks.quality`` (see ``__main__``)."""
