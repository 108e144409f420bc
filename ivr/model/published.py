"""The study's Table 3 figures (percent) printed beside ours by ``ivr.evaluate --published``."""

from __future__ import annotations

from typing import Any

PUBLISHED_TABLE3: dict[str, dict[str, Any]] = {
    "Global (majority vote)": {
        "polar": [66.6, 65.98, 62.28], "polar_avg": 64.95,
        "refined": [49.82, 49.08, 47.2], "refined_avg": 48.7, "all": 56.83,
    },
    "Resemble (all, top 1)": {
        "polar": [70.31, 70.15, 69.02], "polar_avg": 69.83,
        "refined": [53.26, 54.01, 53.27], "refined_avg": 53.51, "all": 61.67,
    },
    "Resemble (all, top cluster)": {
        "polar": [74.74, 74.87, 71.6], "polar_avg": 73.73,
        "refined": [59.32, 60.78, 58.32], "refined_avg": 59.47, "all": 66.6,
    },
    "Llama-3.1-8B (200 demo.)": {
        "polar": [53.06, 56.16, 53.82], "polar_avg": 54.34,
        "refined": [35.64, 39.32, 38.94], "refined_avg": 37.97, "all": 46.16,
    },
    "IVR [probe=p, demo=mixed, N=800]": {
        "polar": [74.03, 75.45, 71.28], "polar_avg": 73.59,
        "refined": [43.22, 48.42, 40.61], "refined_avg": 44.08, "all": 58.84,
    },
    "IVR [probe=r, demo=mixed, N=800]": {
        "polar": [73.23, 75.24, 71.27], "polar_avg": 73.25,
        "refined": [58.82, 62.31, 58.67], "refined_avg": 59.94, "all": 66.59,
    },
    "IVR [probe=p+r, demo=200, N=800]": {
        "polar": [73.96, 75.13, 71.25], "polar_avg": 73.45,
        "refined": [57.52, 61.38, 57.61], "refined_avg": 58.84, "all": 66.14,
    },
    "IVR [probe=p+r, demo=mixed, N=800]": {
        "polar": [74.21, 75.32, 71.24], "polar_avg": 73.59,
        "refined": [58.27, 61.71, 58.21], "refined_avg": 59.4, "all": 66.49,
    },
    "IVR [probe=p+r, demo=mixed+200, N=800]": {
        "polar": [74.65, 75.94, 72.28], "polar_avg": 74.29,
        "refined": [59.2, 62.31, 59.18], "refined_avg": 60.23, "all": 67.26,
    },
    "IVR [probe=p+r, demo=mixed+200, N=1600]": {
        "polar": [75.05, 76.42, 72.76], "polar_avg": 74.74,
        "refined": [59.42, 62.68, 59.72], "refined_avg": 60.6, "all": 67.67,
    },
}
