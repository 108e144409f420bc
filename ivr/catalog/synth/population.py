"""Draw a synthetic WVS-shaped population and write it as a catalog beside its model.

The draw is vectorised and chunked by a fixed number of people, each chunk with its own RNG derived
from ``(seed, tag, chunk)``, so the same seed gives the same catalog on any machine.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ivr.catalog.codebook import Codebook, load_codebook
from ivr.catalog.store import MISSING, Catalog, atomic_dir, catalog_manifest, write_catalog_files
from ivr.catalog.synth.demographics import Countries, draw_demographics, make_countries, profile_features
from ivr.catalog.synth.model import MODEL_FILE, SynthModel, SynthSettings, make_model, option_lookup

CHUNK = 8192
# RNG tags (small ints, see CONTRACTS.md)
TAG_COUNTRIES, TAG_DEMOGRAPHICS, TAG_MODEL, TAG_PROFILES, TAG_ANSWERS, TAG_MISSING = 1, 2, 3, 4, 5, 6


# Bump whenever the generator's output changes for a given (people, seed): cached builds are rebuilt.
GENERATOR_VERSION = 1


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    p = logits - logits.max(axis=1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


def _draw_index(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` [..., K] (inverse cdf)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1])[..., None] * cdf[..., -1:]  # < total mass: never a 0-mass pad
    return np.minimum((u > cdf).sum(axis=-1), probs.shape[-1] - 1)


def _draw_profiles(
    model: SynthModel, demographics: np.ndarray, country: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Profile per person and the population's mean prior (the no-demographics prior)."""
    n = len(country)
    # float32 halves the cost of the [people, profiles] tables, the bulk of the generation time
    feats = profile_features(model.codebook, demographics).astype(np.float32)
    weights = model.feature_weights.T.astype(np.float32)
    country_logits = model.country_logits.astype(np.float32)
    profiles = np.empty(n, np.int64)
    share = np.zeros(model.n_profiles)
    for start in range(0, n, CHUNK):
        sl = slice(start, start + CHUNK)
        logits = country_logits[country[sl]]
        for f in range(feats.shape[1]):  # elementwise, not BLAS: identical bits on any thread count
            logits += feats[sl, f : f + 1] * weights[f]
        probs = _softmax_rows(logits)
        share += probs.sum(axis=0, dtype=np.float64)
        profiles[sl] = _draw_index(np.random.default_rng([seed, TAG_PROFILES, start // CHUNK]), probs)
    return profiles, np.log(np.maximum(share / n, 1e-300))


def _draw_answers(model: SynthModel, profiles: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Refined and polar option indices int8 [P, Q] from each person's profile."""
    lookups = [option_lookup(model.codebook, f) for f in ("refined", "polar")]
    q = model.code_probs.shape[1]
    refined = np.empty((len(profiles), q), np.int8)
    polar = np.empty((len(profiles), q), np.int8)
    cols = np.arange(q)[None]
    code_probs = model.code_probs.astype(np.float32)  # halves the memory traffic of the draw
    for start in range(0, len(profiles), CHUNK):
        sl = slice(start, start + CHUNK)
        rng = np.random.default_rng([seed, TAG_ANSWERS, start // CHUNK])
        code = _draw_index(rng, code_probs[profiles[sl]])  # [n, Q] position in question.codes
        refined[sl] = lookups[0][cols, code]
        polar[sl] = lookups[1][cols, code]
    return refined, polar


def _missing_mask(countries: Countries, n_questions: int, settings: SynthSettings, seed: int) -> np.ndarray:
    """bool [P, Q]: answers that are missing (independent of the value profile, so posteriors stay exact).

    Two sources, as in the real file: questions a country did not ask, and person-level nonresponse
    (a gamma-distributed propensity times a per-question difficulty, so a few people skip many).
    """
    rng = np.random.default_rng([seed, TAG_MISSING])
    n_c = len(countries.codes)
    country = np.repeat(np.arange(n_c), countries.sizes)
    hardness = rng.lognormal(0.0, 0.9, n_questions)
    hardness /= hardness.mean()
    not_asked = np.zeros((n_c, n_questions), bool)
    skip_weight = hardness / hardness.sum()
    # an exact share of countries (not a coin per country) keeps the complete-answer rate stable
    for c in np.sort(rng.permutation(n_c)[: int(round(settings.skip_countries * n_c))]):
        k = min(1 + rng.poisson(5), n_questions)
        not_asked[c, rng.choice(n_questions, k, replace=False, p=skip_weight)] = True
    propensity = rng.gamma(settings.missing_shape, settings.missing_rate / settings.missing_shape, len(country))
    mask = np.empty((len(country), n_questions), bool)
    for start in range(0, len(country), CHUNK):
        sl = slice(start, start + CHUNK)
        p_miss = 1 - np.exp(-propensity[sl, None] * hardness[None])
        mask[sl] = (rng.random(p_miss.shape) < p_miss) | not_asked[country[sl]]
    return mask


@lru_cache(maxsize=4)
def _load_codebook(spec: str) -> Codebook:
    """Parsed codebooks are frozen, so repeated builds (tests, sweeps) can share one parse."""
    return load_codebook(spec)


def synthesize(
    n_people: int, seed: int = 0, codebook: str | Codebook = "wvs7", settings: SynthSettings | None = None
) -> tuple[Catalog, SynthModel]:
    """Draw a synthetic population over a codebook.

    Args:
        n_people: number of people (at least one per country, i.e. >= 64 for wvs7).
        seed: RNG seed; the same seed gives the same catalog.
        codebook: a codebook or a spec for :func:`load_codebook`.
        settings: generator knobs (defaults: the calibrated ones).

    Returns:
        The catalog (people ordered by country) and the model that generated it.
    """
    cb = codebook if isinstance(codebook, Codebook) else _load_codebook(str(codebook))
    settings = settings or SynthSettings()
    countries = make_countries(cb, int(n_people), np.random.default_rng([seed, TAG_COUNTRIES]))
    demographics = draw_demographics(cb, countries, np.random.default_rng([seed, TAG_DEMOGRAPHICS]))
    model = make_model(cb, countries, np.random.default_rng([seed, TAG_MODEL]), settings)
    country = np.repeat(np.arange(len(countries.codes)), countries.sizes)
    profiles, model.marginal_logprior = _draw_profiles(model, demographics, country, seed)
    refined, polar = _draw_answers(model, profiles, seed)
    missing = _missing_mask(countries, len(cb.questions), settings, seed)
    refined[missing] = MISSING
    polar[missing] = MISSING
    within = np.concatenate([np.arange(s) for s in countries.sizes])
    stride = 10 ** max(5, len(str(int(countries.sizes.max()))))  # WVS-like: country code, then number
    person_ids = countries.codes[country].astype(np.int64) * stride + within + 1
    model.settings = {**settings.to_dict(), "seed": int(seed), "n_people": int(n_people)}
    return Catalog(cb, person_ids, polar, refined, demographics), model


def build_synthetic(
    out: str | Path,
    n_people: int,
    seed: int = 0,
    settings: SynthSettings | None = None,
    overwrite: bool = False,
    flag: str = "--out",
    progress: bool = False,
) -> Path:
    """Synthesize a population and write it as a catalog folder with ``synth_model.npz``.

    The catalog files and the model are written into one temporary folder that :func:`atomic_dir`
    renames into place: ``out`` never holds a catalog without its model, nor anything half-written,
    and it replaces only an earlier catalog (never a folder with other files).

    Args:
        out: the catalog folder.
        n_people: people to draw.
        seed: generator seed.
        settings: generator knobs (default: the calibrated ones).
        overwrite: allow replacing an ivr output of another kind.
        flag: the flag that named ``out`` (error messages).
        progress: print what is being done (the draw takes ~15-30 s for 93K people).

    Returns:
        The catalog folder.
    """
    out = Path(out)
    from ivr.outputs import check_output
    from ivr.progress import Steps

    check_output(out, "catalog", overwrite, flag)  # before the draw: a refused folder costs nothing
    steps = Steps(f"synthetic population ({n_people:,} people, seed {seed})", 2, enabled=progress)
    catalog, model = synthesize(n_people, seed, settings=settings)
    steps.done("drew the population")
    extra = {
        "generator": "ivr.catalog.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n_people": int(n_people),
        "settings": model.settings,
    }
    manifest = catalog_manifest(catalog, source="synthetic", extra=extra)
    catalog.manifest = manifest

    def write(tmp: Path) -> None:
        write_catalog_files(catalog, tmp, manifest)
        model.save(tmp / MODEL_FILE)

    folder = atomic_dir(out, write, "catalog", overwrite, flag)
    steps.done(f"wrote {folder}")
    return folder
