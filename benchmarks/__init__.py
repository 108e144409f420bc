"""Benchmark scripts (not tests): each prints its figures, ``python -m benchmarks.<name>``.

``quality`` (``--suite configs`` / ``--suite real``, the latter in ``real``), ``gpu``, ``load``, ``loglik``,
``convert``, ``data``, ``parser``, ``baselines``. The library (``ivr``) never imports this package.
"""
