"""The model: the staged monthly step, the world state, scenario events.

- ``policy_model``: ``PolicyModel``, the Mesa model and its staged step;
- ``world``: the shared world state and its monthly update;
- ``events``: dated scenario events applied in stage 1 of a month.

The agents live in ``sim.agents``.
"""

from sim.model.policy_model import PolicyModel

__all__ = ["PolicyModel"]
