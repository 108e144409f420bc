"""Statistical baselines of the study (Table 3): Random, Global majority and Resemble (FAISS).

Run ``python -m baselines --data.catalog DIR --out DIR``; benchmark with ``python -m benchmarks.baselines``.
Every baseline emits :class:`ivr.metrics.Predictions` scored by :func:`ivr.metrics.evaluate_predictions`.
"""
