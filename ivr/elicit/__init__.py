"""Adaptive elicitation: choose which statements to ask a person next (issue 17).

* :mod:`ivr.elicit.state` -- :class:`PersonState` (asked questions, answers, candidates) and the
  catalog-answered simulation loop;
* :mod:`ivr.elicit.policies` -- the policy interface ``next_question(state)``, ``random`` and
  ``fixed`` (one global order learned on training people);
* :mod:`ivr.elicit.bayes` -- ``bayes-eig``: greedy expected information gain under a synthetic
  population's exact posterior;
* :mod:`ivr.elicit.reasoner` -- ``reasoner``: uncertainty sampling under a trained reasoner;
* :mod:`baselines.elicit` -- ``neighbours`` (Resemble neighbours' disagreement) and the Resemble scorer;
* :mod:`ivr.elicit.scoring` -- accuracy on the probes after k asked questions;
* :mod:`ivr.elicit.stopping` -- the stopping rule (expected probe accuracy, expected gain, a count);
* ``python -m ivr.elicit interview`` -- a live (or scripted) respondent (:mod:`ivr.elicit.interview`);
* ``python -m ivr.elicit serve`` / ``export`` -- the web interview and JSON API (:mod:`ivr.elicit.serve`,
  :mod:`ivr.elicit.live`, sessions in SQLite :mod:`ivr.elicit.store`, :mod:`ivr.elicit.commands`).

The experiment is ``python -m ivr.experiment elicitation`` (:mod:`ivr.experiment.elicitation`).
"""

POLICIES = ("random", "fixed", "bayes-eig", "reasoner", "neighbours")
SCORERS = ("bayes", "reasoner", "resemble")

__all__ = ["POLICIES", "SCORERS"]
