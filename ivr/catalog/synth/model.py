"""The latent value model of the synthetic population and its exact Bayes-optimal predictor.

Every person belongs to one of K latent value profiles. A profile is a point ``z_k`` in a
low-dimensional trait space plus its own per-question quirks; question ``q`` reads the traits through
loadings ``a_q`` (questions of one category share a primary trait, which correlates them), and the
answer follows a graded-response model over the question's raw codes in code order::

    theta_kq = a_q . z_k + idio * delta_kq
    P(code <= c | k) = sigmoid((tau_qc - theta_kq) / noise_kq)

with thresholds ``tau_q`` set so the population marginal matches a skewed target distribution. The
noise scale varies by question and by profile (some questions are near-deterministic given the
profile, some near coin-flips; some people answer far more consistently than others), then a little
uniform noise is mixed in, and some more within each polar group (fine distinctions such as "agree"
vs "strongly agree" are the least stable). Refined and polar options group raw codes, so both forms
come from the same draw. Thousands of profiles packed in a few trait dimensions overlap, so the
nearest neighbours of a person are rarely all of their own profile. The profile prior depends on the country (profiles near the country's trait centre are
likelier; each continent has its own spread) and, more weakly, on the person's observed demographics.
Because the mixture is finite, the posterior over profiles given any set of answers is exact.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ivr.catalog.codebook import FORMS, Codebook, codebook_from_dict
from ivr.catalog.synth.demographics import FEATURES, Countries, profile_features

MODEL_FILE = "synth_model.npz"


@dataclass(frozen=True)
class SynthSettings:
    """Generator knobs (calibrated against the published baselines; see ``python -m baselines.calibrate``)."""

    n_profiles: int = 4000
    n_traits: int = 8
    loading: float = 1.6  # trait loading scale of a question's primary trait
    cross_loading: float = 0.45  # loading scale on the other traits
    idio: float = 0.25  # profile-specific quirk per question
    noise: float = 1.5  # logistic answer noise scale (median over questions)
    noise_spread: float = 2.3  # sd of log noise scale across questions (some near-deterministic)
    profile_noise_spread: float = 0.8  # sd of log noise scale across profiles (some people consistent)
    uniform_noise: float = 0.01  # share of answers drawn uniformly over the codes
    refined_blur: float = 0.12  # share of answers drawn uniformly within their polar group
    skew: float = 1.2  # Dirichlet concentration of the target marginals (lower = more skewed)
    peak: float = 0.45  # extra weight on the modal code of each target marginal
    continent_spread: float = 0.8  # sd of continent trait centres
    country_spread: float = 0.6  # sd of country centres around their continent
    prior_width: float = 1.6  # width of the country profile prior in trait space
    oceania_width: float = 0.8  # Oceania's (narrower: less even answers)
    demo_effect: float = 0.35  # sd of the demographic-feature effect on profile logits
    missing_rate: float = 0.045  # mean per-person item nonresponse scale
    missing_shape: float = 0.22  # gamma shape of the person nonresponse propensity
    skip_countries: float = 0.55  # share of countries that leave some questions out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SynthModel:
    """Parameters of a synthetic population, enough to recompute exact posteriors.

    Attributes:
        codebook: the codebook the population answers.
        code_probs: float64 [K, Q, Cmax] probability of each raw code (``question.codes`` order, 0 pad).
        country_codes: int32 [n_c] country codes.
        country_logits: float64 [n_c, K] log prior of each profile per country (unnormalised).
        feature_weights: float64 [K, F] profile logit change per demographic feature.
        marginal_logprior: float64 [K] log population share of each profile.
        settings: generator settings.
    """

    codebook: Codebook
    code_probs: np.ndarray
    country_codes: np.ndarray
    country_logits: np.ndarray
    feature_weights: np.ndarray
    marginal_logprior: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._option_probs: dict[str, np.ndarray] = {}

    @property
    def n_profiles(self) -> int:
        return self.code_probs.shape[0]

    def option_probs(self, form: str) -> np.ndarray:
        """float64 [K, Q, max options of form]: P(option | profile)."""
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r}; expected one of {FORMS}")
        if form not in self._option_probs:
            index = option_lookup(self.codebook, form)  # [Q, Cmax], -1 pad
            n_opt = max(self.codebook.n_options(form))
            out = np.zeros(self.code_probs.shape[:2] + (n_opt,))
            for o in range(n_opt):
                out[:, :, o] = (self.code_probs * (index == o)[None]).sum(axis=2)
            self._option_probs[form] = out
        return self._option_probs[form]

    def log_option_probs(self, form: str) -> np.ndarray:
        """float64 [K, Q x max options of form]: log P(option | profile), flattened (cached)."""
        key = f"log_{form}"
        if key not in self._option_probs:
            self._option_probs[key] = np.log(np.maximum(self.option_probs(form), 1e-300)).reshape(self.n_profiles, -1)
        return self._option_probs[key]

    def prior_logits(self, demographics: np.ndarray | None, country: np.ndarray | None) -> np.ndarray:
        """Unnormalised log prior [N, K]; the population marginal where nothing is given."""
        if country is None:
            return np.broadcast_to(self.marginal_logprior, (1, self.n_profiles)).copy()
        pos = {int(c): i for i, c in enumerate(self.country_codes)}
        try:
            idx = np.array([pos[int(c)] for c in country])
        except KeyError as err:
            raise ValueError(f"country code {err.args[0]} is not one of this synthetic population's") from err
        logits = self.country_logits[idx]
        if demographics is not None:
            logits = logits + profile_features(self.codebook, demographics) @ self.feature_weights.T
        return logits

    def posterior(
        self,
        catalog: Any,
        rows: np.ndarray,
        demo_qidx: list[np.ndarray],
        probe_qidx: np.ndarray,
        form: str,
        use_demographics: bool = False,
        demo_form: str = "refined",
    ) -> np.ndarray:
        """Exact posterior predictive over each probe's options given each person's demonstrations.

        Args:
            catalog: the catalog the rows index (its answers are the demonstrations).
            rows: [N] catalog rows.
            demo_qidx: per row, the question indices shown as demonstrations (missing answers skipped).
            probe_qidx: [M] question indices to predict.
            form: option form of the probes ("polar" / "refined").
            use_demographics: condition on the person's country and demographics too.
            demo_form: form the demonstrations are read in (refined determines polar, so it is the
                more informative; "polar" gives the ceiling for polar-only demonstrations).

        Returns:
            float64 [N, M, max options of form]: probabilities (0 beyond a question's options), rows sum to 1.
        """
        rows = np.asarray(rows)
        if len(demo_qidx) != len(rows):
            raise ValueError(f"demo_qidx has {len(demo_qidx)} entries for {len(rows)} rows")
        log_post = self.log_posterior(catalog, rows, demo_qidx, use_demographics, demo_form)
        weights = np.exp(log_post - log_post.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        pred = np.einsum("nk,kmo->nmo", weights, self.option_probs(form)[:, np.asarray(probe_qidx)])
        return pred / pred.sum(axis=2, keepdims=True)

    def log_posterior(
        self,
        catalog: Any,
        rows: np.ndarray,
        demo_qidx: list[np.ndarray],
        use_demographics: bool = False,
        demo_form: str = "refined",
    ) -> np.ndarray:
        """Unnormalised log posterior over profiles [N, K]."""
        answers = catalog.answers(demo_form)
        n_opt = max(self.codebook.n_options(demo_form))
        logp = self.log_option_probs(demo_form)
        onehot = np.zeros((len(rows), logp.shape[1]), np.float64)
        for i, (r, qs) in enumerate(zip(rows, demo_qidx)):
            qs = np.asarray(qs, np.int64)
            a = answers[r, qs].astype(np.int64)
            keep = a >= 0
            onehot[i, qs[keep] * n_opt + a[keep]] = 1.0
        if use_demographics:
            country_col = self.codebook.demographic_columns.index(
                self.codebook.demographic(self.codebook.roles["country"]).column
            )
            demo = catalog.demographics[rows]
            prior = self.prior_logits(demo, demo[:, country_col])
        else:
            prior = self.prior_logits(None, None)
        prior = prior - np.logaddexp.reduce(prior, axis=1, keepdims=True)
        return prior + onehot @ logp.T

    def save(self, path: str | Path) -> Path:
        """Write the parameters as ``synth_model.npz`` (in ``path`` if it is a folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / MODEL_FILE
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh,
                code_probs=self.code_probs,
                country_codes=self.country_codes,
                country_logits=self.country_logits,
                feature_weights=self.feature_weights,
                marginal_logprior=self.marginal_logprior,
                settings=np.array(json.dumps(self.settings, sort_keys=True)),
            )
        return path

    @classmethod
    def load(cls, catalog_dir: str | Path) -> SynthModel:
        """Load the model stored beside a synthetic catalog.

        Raises:
            FileNotFoundError: when the folder has no ``synth_model.npz`` (not a synthetic catalog).
        """
        catalog_dir = Path(catalog_dir)
        path = catalog_dir / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(f"{catalog_dir}: no {MODEL_FILE}; only synthetic catalogs have a Bayes model")
        book = catalog_dir / "codebook.json"
        codebook = codebook_from_dict(json.loads(book.read_text(encoding="utf-8")), str(book))
        with np.load(path, allow_pickle=False) as data:
            return cls(
                codebook,
                data["code_probs"],
                data["country_codes"],
                data["country_logits"],
                data["feature_weights"],
                data["marginal_logprior"],
                json.loads(str(data["settings"])),
            )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic; tau = inf gives exactly 1


def option_lookup(codebook: Codebook, form: str) -> np.ndarray:
    """int64 [Q, Cmax]: option index of the c-th raw code of each question (-1 padding)."""
    c_max = max(len(q.codes) for q in codebook.questions)
    out = np.full((len(codebook.questions), c_max), -1, np.int64)
    for j, q in enumerate(codebook.questions):
        m = q.code_to_index(form)
        out[j, : len(q.codes)] = [m[c] for c in q.codes]
    return out


def _target_marginals(rng: np.random.Generator, n_codes: np.ndarray, s: SynthSettings) -> np.ndarray:
    """Skewed, ordinal-smooth target distributions [Q, Cmax] over each question's codes."""
    c_max = int(n_codes.max())
    out = np.zeros((len(n_codes), c_max))
    for j, c in enumerate(n_codes):
        centre = rng.uniform(-0.3, c - 0.7)
        width = rng.uniform(0.5, 0.35 * c + 0.6)
        smooth = np.exp(-0.5 * ((np.arange(c) - centre) / width) ** 2)
        p = rng.dirichlet(np.full(c, s.skew)) * 0.5 + smooth / smooth.sum() * 0.5
        p[np.argmax(p)] += s.peak * p.max()
        out[j, :c] = p / p.sum()
    return out


def _thresholds(theta: np.ndarray, target: np.ndarray, n_codes: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Thresholds [Q, Cmax-1] so that the profile-averaged P(code <= c) equals the target cdf.

    ``theta`` and ``noise`` are [K, Q] (location and logistic scale per profile and question).
    """
    cum = np.cumsum(target, axis=1)[:, :-1]
    lo = np.full(cum.shape, -30.0)
    hi = np.full(cum.shape, 30.0)
    for _ in range(24):  # bisection to ~4e-6, vectorised over questions and codes
        mid = (lo + hi) / 2
        f = _sigmoid((mid[None] - theta[:, :, None]) / noise[:, :, None]).mean(axis=0)
        lo = np.where(f < cum, mid, lo)
        hi = np.where(f < cum, hi, mid)
    tau = (lo + hi) / 2
    tau[np.arange(tau.shape[1])[None] >= (n_codes[:, None] - 1)] = np.inf
    return tau


def make_model(codebook: Codebook, countries: Countries, rng: np.random.Generator, s: SynthSettings) -> SynthModel:
    """Draw the profiles, answer model and country priors (marginal prior filled in later)."""
    k, d, q = s.n_profiles, s.n_traits, len(codebook.questions)
    z = rng.normal(0, 1, (k, d))
    cat_index = {c: i for i, c in enumerate(codebook.categories)}
    primary = np.array([cat_index[x.category] % d for x in codebook.questions])
    loadings = rng.normal(0, s.cross_loading, (q, d))
    loadings[np.arange(q), primary] = s.loading * rng.choice([-1.0, 1.0], q) * rng.uniform(0.6, 1.4, q)
    # einsum, not BLAS matmul: the same bits whatever the thread count, so catalogs are reproducible
    theta = np.einsum("kd,qd->kq", z, loadings) + s.idio * rng.normal(0, 1, (k, q))  # [K, Q]
    n_codes = np.array([len(x.codes) for x in codebook.questions])
    # noise scale [K, Q]: some questions and some profiles answer far more consistently than others
    noise = s.noise * (
        rng.lognormal(0.0, s.noise_spread, q)[None] * rng.lognormal(0.0, s.profile_noise_spread, k)[:, None]
    )
    fit = slice(0, min(k, 600))  # profiles are exchangeable: a subset fixes the thresholds as well
    tau = _thresholds(theta[fit], _target_marginals(rng, n_codes, s), n_codes, noise[fit])
    cdf = _sigmoid((tau[None] - theta[:, :, None]) / noise[:, :, None])  # [K, Q, Cmax-1]
    cdf = np.concatenate([np.zeros((k, q, 1)), cdf, np.ones((k, q, 1))], axis=2)
    probs = np.diff(cdf, axis=2)
    valid = np.arange(probs.shape[2])[None] < n_codes[:, None]
    probs = probs * valid[None]
    probs = (1 - s.uniform_noise) * probs + s.uniform_noise * valid[None] / n_codes[None, :, None]
    # fine distinctions inside a polar group are noisier than the polar side itself
    polar = option_lookup(codebook, "polar")
    group_mass = np.zeros_like(probs)
    group_size = np.zeros(polar.shape)
    for o in range(int(polar.max()) + 1):
        member = polar == o  # [Q, C]
        group_mass += (probs * member[None]).sum(axis=2, keepdims=True) * member[None]
        group_size += member * member.sum(axis=1, keepdims=True)
    probs = (1 - s.refined_blur) * probs + s.refined_blur * group_mass / group_size.clip(1)[None]
    probs /= probs.sum(axis=2, keepdims=True)
    # country priors: profiles near the country's centre are likelier
    names = countries.continent_names
    cont_centre = {c: rng.normal(0, s.continent_spread, d) for c in names}
    centre = np.stack([cont_centre[c] for c in countries.continents])
    centre = centre + rng.normal(0, s.country_spread, centre.shape)
    width = np.array([s.oceania_width if c == "Oceania" else s.prior_width for c in countries.continents])
    dist2 = ((z[None] - centre[:, None]) ** 2).sum(axis=2)
    popularity = np.log(rng.dirichlet(np.full(k, 2.0)) * k)
    country_logits = -dist2 / (2 * width[:, None] ** 2) + popularity[None]
    feature_weights = np.einsum("kd,df->kf", z, rng.normal(0, s.demo_effect, (d, len(FEATURES))))
    return SynthModel(
        codebook, probs, countries.codes.copy(), country_logits, feature_weights, np.zeros(k), s.to_dict()
    )
