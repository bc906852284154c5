"""The one place that touches private internals of the libraries this project builds on.

Each function wraps one private detail of Mesa or Hydra, says why the project needs it
and what to check when the library changes; ``pyproject.toml`` bounds those libraries
from above so an upgrade is a deliberate step.
"""

from __future__ import annotations


# ------------------------------------------------------------------------------ Mesa
def note_collection_step(collector, time: float) -> None:
    """Record the step a row was collected at, as Mesa's own ``DataCollector.collect`` does.

    ``sim.model.policy_model.ScalarCollector`` replaces ``collect`` (Mesa deep-copies every
    value, half of a run's cost), so it must keep the private ``_collection_steps`` list
    that ``mesa.batch_run`` reads to match rows to steps (mesa 3.x batchrunner).
    """
    if hasattr(collector, "_collection_steps"):
        collector._collection_steps.append(time)
