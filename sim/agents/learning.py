"""Shared decision machinery for the two states: logit choice, learned attractions and
the base class ``LearningState`` that Pakistan and the Taliban both extend.

Both Pakistan and the Taliban choose between two stances, ``engage`` and
``pressure``, by a logit (quantal-response) rule over the difference of their
utilities, and learn an attraction for each stance from the outcomes that followed
it (reinforcement in the spirit of experience-weighted attraction, with the
forgone stance's attraction decaying towards zero).
"""

from __future__ import annotations

import math

import mesa

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


class LearningState(mesa.Agent):
    """A state (Pakistan, the Taliban) that chooses a stance by logit and learns from outcomes.

    Subclasses give ``utility_gap`` (U(engage) - U(pressure) from last month's world),
    their own instruments or actions, and the reward ``learn`` reinforces. A scenario
    event can force the stance (``forced_stance``); the logit draw is still made, so a
    forced month consumes the same random numbers as a free one.
    """

    COLUMN_PREFIX = "state"  # subclasses: "pakistan", "taliban" (frame columns and random stream names)

    def __init__(self, model: mesa.Model, params):
        super().__init__(model)
        self.params = params
        self.stance: str = params.initial_stance
        self.p_engage = 1.0 if self.stance == "engage" else 0.0
        self.attractions = Attractions(params.learning_rate, params.attraction_decay)
        self.forced_stance: str | None = None
        self.last_reward = 0.0
        self.stance_rng = model.stream(f"{self.COLUMN_PREFIX}.stance")

    def utility_gap(self) -> float:
        raise NotImplementedError

    def draw_stance(self) -> str:
        """This month's stance: a logit draw over the utility gap, unless an event forces it."""
        self.p_engage = logit_probability(self.utility_gap(), self.params.choice_precision)
        stance = "engage" if self.stance_rng.random() < self.p_engage else "pressure"
        return self.forced_stance if self.forced_stance is not None else stance

    def reinforce(self, reward: float) -> None:
        """Stage 6: the stance just played earns the reward that followed it."""
        self.last_reward = reward
        self.attractions.reinforce(self.stance, reward)
