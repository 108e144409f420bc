"""Zero-shot probing of language models: JSON probe prompts; vLLM / transformers backends in-process, or
any model behind an HTTP API (OpenAI-compatible servers, Anthropic); resumable runs.

Entry point: ``python -m ivr.zero_shot --config configs/zero_shot.yaml --model PATH_OR_ID``
(``configs/zero_shot_api.yaml``: the study's frontier models in one command).
Modules: ``parser`` (answer parsing), ``cache`` (response cache), ``backends`` (vLLM, transformers),
``scoring`` (option-logit scoring), ``run`` (prompts, querying, predictions), ``report`` (tables, plot),
``api`` (OpenAI / Anthropic clients), ``limits`` (concurrency, retries, rate caps, progress),
``remote`` (HTTP backends through the cache), ``sweep`` (a list of models, side-by-side report).
"""
