"""The study's published figures that experiments print beside their own (percent, or sigma points).

Numbers only, transcribed from the paper (the same keys as the project's results JSON). A fuller
results file can be given with ``--paper FILE``; its keys replace these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PUBLISHED: dict[str, Any] = {
    # rows: training continent; columns: continent of the test people; polar accuracy
    "figure6_continent_models": {
        "columns": ["Africa", "Europe", "North America", "Oceania", "South America", "Asia", "All"],
        "Africa": [70.65, 70.02, 69.35, 72.25, 67.73, 68.43, 69.56],
        "Europe": [70.98, 73.32, 73.74, 79.17, 69.71, 70.84, 72.54],
        "North America": [69.61, 71.63, 74.24, 79.4, 70.25, 70.44, 72.13],
        "Oceania": [64.15, 66.42, 69.99, 77.8, 62.9, 64.82, 66.99],
        "South America": [69.66, 71.33, 71.36, 74.45, 70.23, 69.37, 70.84],
        "Asia": [70.79, 72.18, 73.46, 76.99, 69.34, 71.48, 72.06],
        "All": [71.7, 73.3, 74.53, 78.45, 70.85, 71.44, 73.03],
    },
    "table4_demographics_training": {"rows": [
        {"train_demographics": 400, "train_statements": 400, "eval_statements": 73.74,
         "eval_demographics": 68.02, "avg": 70.88},
        {"train_demographics": 800, "train_statements": 0, "eval_statements": 63.81,
         "eval_demographics": 67.42, "avg": 65.62},
        {"train_demographics": 0, "train_statements": 800, "eval_statements": 73.45,
         "eval_demographics": 62.84, "avg": 68.14},
    ]},
    "table19_inequity_by_dimension": {
        "dimensions": ["Country", "Continent", "Sex", "Age", "Immigration Status", "Birth Country", "Citizenship",
                       "Marital Status", "Education", "Employment Status", "Occupation", "Employment Sector",
                       "Family Saving", "Social Class", "Income", "Religion"],
        "zero_shot_llama_3_1_8b": [3.47, 5.55, 0.98, 2.33, 4.58, 4.96, 2.44, 1.1, 3.73, 2.73, 2.44, 1.19, 3.23,
                                   2.97, 4.05, 1.76],
        "indievaluereasoner": [3.03, 3.31, 0.35, 1.64, 3.28, 3.84, 3.51, 0.72, 2.18, 2.03, 1.81, 1.34, 2.27,
                               2.16, 2.83, 1.16],
        "average": {"zero_shot_llama_3_1_8b": 2.97, "indievaluereasoner": 2.22},
    },
    "table2_inequity_index": {
        "GPT-4o (0806)": 3.03, "GPT-4o (0513)": 2.87, "GPT-4o-mini (0718)": 2.55, "GPT-4-turbo (0409)": 2.83,
        "Llama-3.1-8B": 2.97, "Llama-3.1-70B": 1.94, "Mixtral-8x7B": 3.19, "Mixtral-8x22B": 3.06,
        "Qwen2-72B": 3.24, "Claude-3.5 (Sonnet)": 3.14,
    },
    # zero-shot, 200 polar demonstrations, polar probes: P0, P1, P2, average
    "table14_zero_shot_polar": {
        "GPT-4o (0806)": [65.21, 64.77, 60.39, 63.46], "GPT-4-turbo (0409)": [65.08, 65.73, 60.41, 63.74],
        "GPT-4o (0513)": [65.66, 64.85, 60.61, 63.71], "GPT-4o-mini (0718)": [60.05, 64.13, 58.21, 60.8],
        "Llama-3.1-8B": [58.72, 62.09, 53.8, 58.2], "Llama-3.1-70B": [65.41, 66.53, 59.2, 63.71],
        "Mixtral-8x7B": [59.18, 58.03, 51.58, 56.26], "Mixtral-8x22B": [62.91, 63.47, 57.1, 61.16],
        "Qwen2-72B": [65.1, 65.16, 60.58, 63.61], "Claude-3.5 (Sonnet)": [65.74, 66.48, 61.76, 64.66],
    },
}

TABLE19_COLUMNS = {"zero_shot_llama_3_1_8b": "Llama-3.1-8B zero-shot (paper)",
                   "indievaluereasoner": "IndieValueReasoner (paper)"}


def load_published(path: str | Path | None = None) -> dict[str, Any]:
    """The published figures, with the keys of a results JSON file replacing the built-in ones.

    Args:
        path: optional results JSON (e.g. the project's ``paper/results.json``).

    Raises:
        FileNotFoundError / ValueError: a missing or malformed file (named).
    """
    figures = dict(PUBLISHED)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"--paper {path}: no such file")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"--paper {path}: not valid JSON ({err})") from err
        if not isinstance(data, dict):
            raise ValueError(f"--paper {path}: expected a JSON object of tables")
        for key, value in data.items():
            if key in PUBLISHED:
                figures[key] = {k: v for k, v in value.items() if k != "_about"} if isinstance(value, dict) else value
    return figures
