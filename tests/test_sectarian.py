"""Kurram's tribal-sectarian clashes (sim/model/sectarian.py, docs/ODD.md 6.3a).

A local conflict the all-violence figures count: the record's flare-ups fire on their
dates in the replay, tension makes flare-ups cluster and escalate (controlled
comparisons that fail with the mechanism off), and the process stays outside the
policy loop (every other column is unchanged when it is switched off).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import sim
from tests import helpers

SECTARIAN_COLUMNS = ["sectarian_clashes", "deaths_sectarian", "sectarian_tension"]
RECORD_FLARES = {"2023-07", "2024-07", "2024-09", "2024-11", "2024-12", "2025-01"}


def test_the_records_flare_ups_fire_on_their_dates_and_no_others_in_the_replay():
    frame = sim.run("history_2021_2025", seed=5)
    months = set(frame.loc[frame.sectarian_clashes, "date"].dt.strftime("%Y-%m"))
    assert months == RECORD_FLARES
    assert (frame.loc[~frame.sectarian_clashes, "deaths_sectarian"] == 0).all()
    assert (frame.loc[frame.sectarian_clashes, "deaths_sectarian"] > 0).any()


def _long_runs(seeds: int = 6, months: int = 600, **changes) -> list[pd.DataFrame]:
    changes.setdefault("world__sectarian__flare_rate", 0.05)
    return helpers.ensemble(seeds, months, start="stylized", **changes)


def _followed_within(frames: list[pd.DataFrame], months: int) -> float:
    """Share of flare-ups followed by another within ``months`` months."""
    hits = total = 0
    for f in frames:
        idx = np.flatnonzero(f.sectarian_clashes.to_numpy())
        for i, j in zip(idx[:-1], idx[1:]):
            total += 1
            hits += (j - i) <= months
    return hits / max(total, 1)


def test_tension_makes_flare_ups_cluster():
    revenge = _long_runs(world__sectarian__revenge_boost=4.0)
    none = _long_runs(world__sectarian__revenge_boost=0.0)
    assert _followed_within(revenge, 6) > _followed_within(none, 6) + 0.1


def test_flare_ups_under_tension_kill_more_when_clashes_escalate():
    def deaths_per_flare(frames):
        d = pd.concat(frames)
        return d.loc[d.sectarian_clashes, "deaths_sectarian"].mean()

    escalating = _long_runs(world__sectarian__escalation=2.0)
    flat = _long_runs(world__sectarian__escalation=0.0)
    assert deaths_per_flare(escalating) > 1.3 * deaths_per_flare(flat)


def test_the_clashes_stay_outside_the_policy_loop():
    """Switching the clashes on or off changes their own columns and nothing else."""
    common = dict(seed=3, months=120, start="stylized")
    on = helpers.run(helpers.config(**common, world__sectarian__flare_rate=0.5))
    off = helpers.run(helpers.config(**common, world__sectarian__flare_rate=0.0))
    assert on.deaths_sectarian.sum() > 0 and off.deaths_sectarian.sum() == 0
    assert on.drop(columns=SECTARIAN_COLUMNS).equals(off.drop(columns=SECTARIAN_COLUMNS))


def test_a_flare_up_forced_by_an_event_happens_that_month():
    frame = helpers.run(helpers.config(seed=1, months=24, start="stylized", world__sectarian__flare_rate=0.0,
                                       events=[helpers.hold("world.sectarian.forced_flare", True, 2, "+5")]))
    assert list(np.flatnonzero(frame.sectarian_clashes.to_numpy())) == [5, 6]


def test_the_event_log_reports_each_flare_up_with_its_deaths():
    model = sim.build_model("history_2021_2025", seed=2).run()
    frame = model.frame()
    lines = [line for line in model.event_log.lines if "clashes in Kurram:" in line]
    expected = [f"{d:%Y-%m}: Tribal-sectarian clashes in Kurram: {n} killed"
                for d, n in zip(frame.loc[frame.sectarian_clashes, "date"],
                                frame.loc[frame.sectarian_clashes, "deaths_sectarian"])]
    assert lines == expected and len(lines) == len(RECORD_FLARES)
