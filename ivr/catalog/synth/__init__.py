"""Synthetic WVS-shaped populations with an exact Bayes-optimal predictor.

``synthesize(n_people, seed)`` draws a population in memory; ``build_synthetic(out, n_people, seed)``
writes it as a catalog folder with ``synth_model.npz``; ``SynthModel.load(folder).posterior(...)`` gives
the exact posterior predictive over probe options given a person's demonstrations.
"""

from ivr.catalog.synth.model import SynthModel, SynthSettings
from ivr.catalog.synth.population import build_synthetic, synthesize

__all__ = ["SynthModel", "SynthSettings", "build_synthetic", "synthesize"]
