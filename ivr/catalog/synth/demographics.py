"""Countries, per-country sample sizes and demographics of the synthetic population.

Countries are the WVS wave-7 participants the codebook knows (ISO numeric codes of its country
demographic); continents come from the codebook's country-to-continent demographic. Demographics are
drawn per country with the dependence a survey shows: younger and more educated people in some
countries, income and class following education, marital status and children following age, spouse
fields present only for people living with a partner. Columns the generator has no rule for are drawn
from a per-country distribution over the codebook's codes, so any codebook gets a complete table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ivr.catalog.codebook import Codebook
from ivr.errors import ConfigError

# WVS-7 participants (ISO 3166 numeric) with their approximate published sample sizes; only the
# relative sizes matter (clipped to 1,000-3,000 and rescaled to the requested population).
WVS7_SIZES: dict[int, int] = {
    20: 1004,
    32: 1003,
    51: 1223,
    36: 1813,
    50: 1200,
    68: 2067,
    76: 1762,
    124: 3000,
    152: 1000,
    156: 3036,
    170: 1520,
    196: 1000,
    203: 1200,
    218: 1200,
    818: 1200,
    231: 1230,
    276: 1528,
    300: 1200,
    320: 1203,
    344: 2075,
    360: 3200,
    364: 1499,
    368: 1200,
    392: 1353,
    400: 1203,
    398: 1276,
    404: 1266,
    417: 1200,
    422: 1200,
    434: 1196,
    446: 1023,
    458: 1313,
    462: 1039,
    484: 1741,
    496: 1638,
    504: 1200,
    104: 1200,
    528: 2145,
    554: 1057,
    558: 1200,
    566: 1237,
    586: 1995,
    604: 1400,
    608: 1200,
    630: 1127,
    642: 1257,
    643: 1810,
    688: 1046,
    702: 2012,
    703: 1200,
    410: 1245,
    158: 1223,
    762: 1200,
    764: 1500,
    788: 1208,
    792: 2415,
    804: 1289,
    840: 2596,
    858: 1000,
    862: 1190,
    704: 1200,
    716: 1215,
    826: 2609,
    909: 1000,
}
# Mean development level per continent (drives education, age structure, household size).
CONTINENT_DEVELOPMENT = {
    "Africa": -0.9,
    "Asia": -0.1,
    "Europe": 0.7,
    "North America": 0.3,
    "Oceania": 0.9,
    "South America": -0.1,
}
FEATURES = ("age", "female", "education", "income", "class", "no_religion", "muslim", "christian", "immigrant")


@dataclass(frozen=True)
class Countries:
    """The synthetic countries: codes, continents, development and people per country."""

    codes: np.ndarray  # int32 [n_c] country codes
    continents: tuple[str, ...]  # [n_c] continent names
    development: np.ndarray  # float [n_c]
    sizes: np.ndarray  # int64 [n_c] people per country

    @property
    def continent_names(self) -> list[str]:
        return sorted(set(self.continents))


def _allocate(n_people: int, weights: np.ndarray) -> np.ndarray:
    """Split ``n_people`` in proportion to ``weights`` (largest remainders), every share >= 1."""
    if n_people < len(weights):
        raise ConfigError(
            f"a synthetic population of {n_people} people is smaller than its number of countries "
            f"({len(weights)}): ask for at least {len(weights)} people (--people, synthetic:people=N)"
        )
    raw = n_people * weights / weights.sum()
    sizes = np.maximum(np.floor(raw).astype(np.int64), 1)
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    i = 0
    while sizes.sum() != n_people:
        j = order[i % len(order)]
        step = 1 if sizes.sum() < n_people else -1
        if sizes[j] + step >= 1:
            sizes[j] += step
        i += 1
    return sizes


def make_countries(codebook: Codebook, n_people: int, rng: np.random.Generator) -> Countries:
    """Pick the countries and their sample sizes.

    Raises:
        ValueError: when the codebook has no country / continent demographics.
    """
    roles = codebook.roles
    if "country" not in roles or "continent" not in roles:
        raise ConfigError(f"codebook {codebook.name!r} needs 'country' and 'continent' roles for synthesis")
    country = codebook.demographic(roles["country"])
    continent = codebook.demographic(roles["continent"])
    codes = [c for c in sorted(WVS7_SIZES) if c in country.values and c in continent.values]
    if len(codes) < 8:  # a custom codebook: use its own country list, equal weights
        codes = sorted(c for c in country.values if c in continent.values)
    weights = np.array([np.clip(WVS7_SIZES.get(c, 1200), 1000, 3000) for c in codes], float)
    conts = tuple(continent.values[c] for c in codes)
    dev = np.array([CONTINENT_DEVELOPMENT.get(k, 0.0) for k in conts]) + rng.normal(0, 0.35, len(codes))
    return Countries(np.array(codes, np.int32), conts, np.clip(dev, -1.5, 1.5), _allocate(n_people, weights))


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a [N, K] probability table (rows need not be normalised)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((u[:, None] > cdf).sum(axis=1), probs.shape[1] - 1)


def _ordinal(latent: np.ndarray, cuts: list[float]) -> np.ndarray:
    return np.searchsorted(np.asarray(cuts), latent).astype(np.int64)


def _from_values(
    rng: np.random.Generator, values: list[int], n: int, country: np.ndarray, n_countries: int, alpha: float = 0.7
) -> np.ndarray:
    """Codes drawn from a per-country Dirichlet distribution over ``values``."""
    probs = rng.dirichlet(np.full(len(values), alpha), size=n_countries)
    return np.asarray(values)[_categorical(rng, probs[country])]


def draw_demographics(codebook: Codebook, countries: Countries, rng: np.random.Generator) -> np.ndarray:
    """Demographic raw codes int32 [P, C] (C = ``codebook.demographic_columns``), -1 = missing."""
    n_c = len(countries.codes)
    country = np.repeat(np.arange(n_c), countries.sizes)
    n = len(country)
    dev = countries.development[country]
    cols: dict[str, np.ndarray] = {}
    female = rng.random(n) < 0.52
    cols["Q260"] = np.where(female, 2, 1)
    age_lat = rng.normal(0, 1, n) + 0.45 * dev
    age = _ordinal(age_lat, [-0.95, -0.35, 0.15, 0.6, 1.05]) + 1  # 1..6
    cols["X003R"] = age
    edu_lat = 0.9 * dev - 0.18 * (age - 3.5) + rng.normal(0, 1, n)
    edu = _ordinal(edu_lat, [-1.9, -1.1, -0.5, 0.25, 0.5, 0.8, 1.45, 2.3])  # 0..8
    cols["Q275"] = edu
    inc_lat = 0.55 * edu_lat + rng.normal(0, 0.85, n)
    cols["Q288R"] = _ordinal(inc_lat, [-0.55, 0.95]) + 1
    cols["Q287"] = 5 - _ordinal(0.7 * inc_lat + 0.25 * edu_lat + rng.normal(0, 0.6, n), [-1.2, -0.2, 0.8, 1.9])
    cols["Q286"] = np.where(inc_lat + rng.normal(0, 0.8, n) > 0.1, 1, rng.integers(2, 5, n))
    # marital status follows age: single young, married middle, widowed old
    p_mar = np.stack(
        [
            np.interp(age, [1, 3, 6], [0.12, 0.62, 0.5]),  # married
            np.interp(age, [1, 3, 6], [0.07, 0.09, 0.02]),  # living together
            np.interp(age, [1, 3, 6], [0.005, 0.05, 0.06]),  # divorced
            np.full(n, 0.02),  # separated
            np.interp(age, [1, 4, 6], [0.002, 0.03, 0.3]),  # widowed
            np.interp(age, [1, 3, 6], [0.8, 0.15, 0.05]),  # single
        ],
        axis=1,
    )
    marital = _categorical(rng, p_mar) + 1
    cols["Q273"] = marital
    partner = marital <= 2
    kids = np.where(
        (marital == 6) & (age <= 2), 0, rng.poisson(np.clip(0.6 + 0.45 * np.minimum(age, 4) - 0.7 * dev, 0.05, None))
    )
    cols["Q274"] = np.minimum(kids, 7)
    cols["Q270"] = np.minimum(1 + partner + np.minimum(kids, 4) + rng.poisson(np.clip(0.6 - 0.5 * dev, 0.05, None)), 7)
    with_parents = (age <= 2) & ~partner & (rng.random(n) < 0.7)
    cols["Q271"] = np.where(with_parents, rng.integers(2, 5, n), 1)
    immigrant_rate = np.clip(rng.gamma(1.2, 0.05, n_c), 0.005, 0.3)[country]
    imm = rng.random(n) < immigrant_rate
    cols["Q263"] = np.where(imm, 2, 1)
    cols["Q264"] = np.where(rng.random(n) < np.where(imm, 0.9, immigrant_rate * 0.5), 2, 1)
    cols["Q265"] = np.where(rng.random(n) < np.where(imm, 0.9, immigrant_rate * 0.5), 2, 1)
    cols["Q269"] = np.where(imm & (rng.random(n) < 0.5), 2, 1)
    home = countries.codes[country]
    for col, flag in (("Q266", "Q263"), ("Q267", "Q264"), ("Q268", "Q265")):
        if col in codebook.demographic_columns:
            values = _values_of_column(codebook, col)
            abroad = np.asarray(values)[rng.integers(0, len(values), n)]
            ok_home = np.isin(home, values)
            cols[col] = np.where((cols[flag] == 2) | ~ok_home, abroad, home)
    emp_p = np.stack(
        [
            np.full(n, 0.42) + 0.08 * dev,  # full time
            np.full(n, 0.08),  # part time
            np.full(n, 0.12) - 0.04 * dev,  # self employed
            np.where(age >= 6, 1.3, np.where(age == 5, 0.2, 0.0)),  # retired
            np.where(female, 0.22 - 0.08 * dev, 0.005),  # housewife
            np.where(age == 1, 0.9, 0.0),  # student
            np.full(n, 0.08) - 0.03 * dev,  # unemployed
        ],
        axis=1,
    ).clip(0.001, None)
    employment = _categorical(rng, emp_p) + 1
    cols["Q279"] = employment
    occ_lat = -1.1 * (edu - 4) / 2 + rng.normal(0, 0.8, n)
    occ = _ordinal(occ_lat, [-1.2, -0.8, -0.3, 0.1, 0.5, 0.8, 1.1, 1.5, 1.9]) + 1  # 1..10
    cols["Q281"] = np.where((employment == 6) & (rng.random(n) < 0.7), 0, occ)
    cols["Q284"] = np.where(employment <= 3, _categorical(rng, np.tile([0.3, 0.62, 0.08], (n, 1))) + 1, -1)
    cols["Q285"] = np.where(rng.random(n) < np.where(female, 0.3, 0.65) * np.where(age <= 1, 0.3, 1.0), 1, 2)
    spouse_edu = np.clip(edu + rng.integers(-1, 2, n), 0, 8)
    cols["Q276"] = np.where(partner, spouse_edu, -1)
    cols["Q277"] = np.clip(edu - rng.integers(0, 4, n), 0, 8)
    cols["Q278"] = np.clip(edu - rng.integers(0, 4, n), 0, 8)
    cols["Q280"] = np.where(partner, _categorical(rng, emp_p) + 1, -1)
    cols["Q282"] = np.where(partner, np.clip(occ + rng.integers(-2, 3, n), 1, 10), -1)
    cols["Q289"] = _religion(rng, countries, country)
    if "Q290" in _ids(codebook):
        cols["Q290"] = _by_prefix(rng, sorted(codebook.demographic("Q290").values), countries.codes, country)
    if "Q272" in _ids(codebook):
        langs = sorted(codebook.demographic("Q272").values)
        main = np.asarray(langs)[rng.integers(0, len(langs), (n_c, 3))]
        pick = _categorical(rng, np.tile([0.82, 0.13, 0.05], (n, 1)))
        cols["Q272"] = main[country, pick]
    out = np.full((n, len(codebook.demographic_columns)), -1, np.int32)
    country_col = codebook.demographic(codebook.roles["country"]).column
    for c, name in enumerate(codebook.demographic_columns):
        if name == country_col:
            out[:, c] = home
            continue
        values = _values_of_column(codebook, name)
        col = cols.get(name)
        if col is None or not np.isin(col[col >= 0], values).all():
            col = _from_values(rng, values, n, country, n_c)
        # item nonresponse: a couple of percent per column
        out[:, c] = np.where(rng.random(n) < 0.015, -1, col)
    return out


def _ids(codebook: Codebook) -> set[str]:
    return {d.id for d in codebook.demographics}


def _values_of_column(codebook: Codebook, column: str) -> list[int]:
    return sorted({int(c) for d in codebook.demographics if d.column == column for c in d.values})


def _religion(rng: np.random.Generator, countries: Countries, country: np.ndarray) -> np.ndarray:
    """Religion (codes 0-9) from a per-continent base mixed with a per-country Dirichlet."""
    base = {  # none, catholic, protestant, orthodox, jew, muslim, hindu, buddhist, other christ., other
        "Africa": [3, 10, 15, 10, 0.1, 35, 0.3, 0.1, 20, 6],
        "Asia": [22, 4, 3, 2, 0.3, 45, 4, 12, 2, 6],
        "Europe": [30, 28, 10, 25, 0.4, 3, 0.1, 0.2, 2, 1.5],
        "North America": [18, 45, 12, 0.5, 1, 1, 0.3, 0.5, 18, 3],
        "Oceania": [40, 22, 18, 1, 0.5, 2, 2, 2, 8, 4],
        "South America": [12, 62, 4, 0.2, 0.3, 0.2, 0.1, 0.1, 18, 3],
    }
    probs = np.stack(
        [rng.dirichlet(0.3 + 0.25 * np.asarray(base.get(k, [10] * 10), float)) for k in countries.continents]
    )
    return _categorical(rng, probs[country])


def _by_prefix(rng: np.random.Generator, values: list[int], codes: np.ndarray, country: np.ndarray) -> np.ndarray:
    """Ethnic group codes: the country's own codes (``country * 1000 + k``), -1 where it has none."""
    vals = np.asarray(values)
    out = np.full(len(country), -1, np.int64)
    for i, code in enumerate(codes):
        own = vals[vals // 1000 == code]
        rows = np.flatnonzero(country == i)
        if len(own) and len(rows):
            out[rows] = own[_categorical(rng, np.tile(rng.dirichlet(np.full(len(own), 0.6)), (len(rows), 1)))]
    return out


def profile_features(codebook: Codebook, demographics: np.ndarray) -> np.ndarray:
    """Standardised features [P, len(FEATURES)] read from observed demographic codes.

    The profile prior uses only what the catalog shows (missing -> 0), so conditioning on a person's
    demographics is exact.
    """
    cols = codebook.demographic_columns
    n = len(demographics)

    def col(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in cols:
            return np.zeros(n), np.zeros(n, bool)
        v = demographics[:, cols.index(name)].astype(float)
        return v, v >= 0

    feats = []
    for name, center, scale in (("X003R", 3.5, 1.7), ("Q275", 4.0, 2.0), ("Q288R", 2.0, 0.8), ("Q287", 3.5, 1.0)):
        v, ok = col(name)
        feats.append(np.where(ok, (v - center) / scale, 0.0))
    sex, ok_sex = col("Q260")
    rel, ok_rel = col("Q289")
    imm, ok_imm = col("Q263")
    age, edu, inc, cls = feats
    return np.stack(
        [
            age,
            np.where(ok_sex, np.where(sex == 2, 1.0, -1.0), 0.0),
            edu,
            inc,
            -cls,
            np.where(ok_rel, (rel == 0) * 2.0 - 1.0, 0.0),
            (ok_rel & (rel == 5)).astype(float),
            (ok_rel & np.isin(rel, [1, 2, 3, 8])).astype(float),
            (ok_imm & (imm == 2)).astype(float),
        ],
        axis=1,
    )
