"""Shared decision machinery for the two states: logit choice and learned attractions.

Both Pakistan and the Taliban choose between two stances, ``engage`` and
``pressure``, by a logit (quantal-response) rule over the difference of their
utilities, and learn an attraction for each stance from the outcomes that followed
it (reinforcement in the spirit of experience-weighted attraction, with the
forgone stance's attraction decaying towards zero).
"""

from __future__ import annotations

import math

STANCES = ("engage", "pressure")


def logit_probability(utility_gap: float, precision: float) -> float:
    """P(engage) for a utility gap U(engage) - U(pressure); precision 0 is a coin flip."""
    z = precision * utility_gap
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


class Attractions:
    """Learned value of each stance, reinforced by the reward realised after choosing it."""

    __slots__ = ("engage", "pressure", "learning_rate", "decay")

    def __init__(self, learning_rate: float, decay: float):
        self.engage = 0.0
        self.pressure = 0.0
        self.learning_rate = learning_rate
        self.decay = decay

    @property
    def gap(self) -> float:
        return self.engage - self.pressure

    def reinforce(self, chosen: str, reward: float) -> None:
        lr = self.learning_rate
        if chosen == "engage":
            self.engage += lr * (reward - self.engage)
            self.pressure *= self.decay
        else:
            self.pressure += lr * (reward - self.pressure)
            self.engage *= self.decay
