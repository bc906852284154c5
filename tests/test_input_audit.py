"""Bad input found by a hostile-user audit: each case is stopped with one line before anything runs.

Every test here failed (a traceback, a vague or multi-line message, or bad data silently
accepted) before the fix it names. In-process through the API, ``sim.__main__.prepare``
(the command line's check) and ``sim.sweeps.aggregate.main`` wherever possible.
"""

from __future__ import annotations

import pytest

import sim
from sim.config import ConfigError


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


# ------------------------------------------------------------------ overrides (API and CLI)
@pytest.mark.parametrize("scenario", [None, "baseline"])
def test_deleting_the_scenario_group_is_refused_with_one_line(scenario):
    # (was: IndexError from the scenario choice of a "~scenario" line)
    with pytest.raises(ConfigError) as err:
        sim.load_config(scenario, overrides=["~scenario"])
    assert one_line(err.value) == "scenario: missing config group"
