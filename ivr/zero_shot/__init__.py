"""Zero-shot probing of language models: JSON probe prompts, vLLM / transformers backends, resumable runs.

Entry point: ``python -m ivr.zero_shot --config configs/zero_shot.yaml --model PATH_OR_ID``.
Modules: ``parser`` (answer parsing), ``cache`` (response cache), ``backends`` (vLLM, transformers),
``scoring`` (option-logit scoring), ``run`` (prompts, querying, predictions), ``report`` (tables, plot).
"""
