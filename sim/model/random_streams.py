"""Named random streams: each random process of the model draws from its own generator.

Every stream is derived from the run's seed and the *name* of the process that uses it
(``pakistan.stance``, ``militant.ttp``, ``world.refugees``, ...), not from the order in
which agents were built. So two runs with the same seed see the same random numbers in
every process a policy change does not touch (common random numbers): comparing a
scenario with another on the same seeds then measures the policy, not the luck of the
draw. Each process also draws a fixed number of numbers a month where it can, so a
different choice upstream does not shift the numbers it gets.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator of process ``name`` in a run with ``seed`` (same inputs, same stream)."""
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(key,)))
