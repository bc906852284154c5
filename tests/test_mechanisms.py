"""Each mechanism of ODD §6 shown by a controlled comparison of runs.

The two runs of a comparison differ in one thing only; stances are forced where the
mechanism is about the world's response, so the comparison is not muddied by the
agents choosing differently. Differences are averaged over seeds.
"""

from __future__ import annotations

import numpy as np

from tests.helpers import ensemble, hold, mean_of

SEEDS = 6


def both(pakistan: str, taliban: str, months: int) -> list[dict]:
    return [hold("pakistan.stance", pakistan, months), hold("taliban.stance", taliban, months)]


def test_pakistani_pressure_raises_grievance_and_cuts_trade_and_revenue():
    months = 36
    pressed = ensemble(SEEDS, months, events=[hold("pakistan.stance", "pressure", months)])
    engaged = ensemble(SEEDS, months, events=[hold("pakistan.stance", "engage", months)])
    assert mean_of(pressed, "taliban_grievance") > mean_of(engaged, "taliban_grievance") + 0.05
    assert mean_of(pressed, "trade") < 0.8 * mean_of(engaged, "trade")
    assert mean_of(pressed, "taliban_revenue") < mean_of(engaged, "taliban_revenue")


def test_strikes_raise_taliban_restraint_briefly_and_provoke_revenge():
    months, strike_month = 30, 12
    stances = both("pressure", "pressure", months)
    struck = ensemble(SEEDS, months, events=stances + [hold("pakistan.strikes", True, 1, f"+{strike_month}")],
                      pakistan__strike_prob=0.0)
    calm = ensemble(SEEDS, months, events=stances, pakistan__strike_prob=0.0)
    after = strike_month + 1
    boost_now = mean_of(struck, "taliban_restraint_intent", slice(after, after + 1)) - mean_of(
        calm, "taliban_restraint_intent", slice(after, after + 1))
    boost_later = mean_of(struck, "taliban_restraint_intent", slice(after + 10, after + 11)) - mean_of(
        calm, "taliban_restraint_intent", slice(after + 10, after + 11))
    assert boost_now > 0.1
    assert boost_later < boost_now / 4, "the restraint after a strike should fade within months"
    window = slice(after, after + 3)
    assert mean_of(struck, "intensity_ttp", window) > 1.3 * mean_of(calm, "intensity_ttp", window)
    assert mean_of(struck, "attacks_ttp", window) > mean_of(calm, "attacks_ttp", window)


def test_engagement_progress_raises_spoiler_attacks():
    months = 36
    late = slice(12, None)  # once engagement progress has built up

    def spoiler_lift(stance: str) -> float:
        events = both(stance, stance, months)
        with_spoilers = ensemble(SEEDS, months, events=events)
        without = ensemble(SEEDS, months, events=events, militants__spoiler_scale=0.0)
        return mean_of(with_spoilers, "intensity_iskp", late) / mean_of(without, "intensity_iskp", late)

    engaged_lift, hostile_lift = spoiler_lift("engage"), spoiler_lift("pressure")
    assert engaged_lift > 1.3
    assert engaged_lift > hostile_lift + 0.2
    engaged = ensemble(SEEDS, months, events=both("engage", "engage", months))
    hostile = ensemble(SEEDS, months, events=both("pressure", "pressure", months))
    assert mean_of(engaged, "attacks_iskp", late) > mean_of(hostile, "attacks_iskp", late)


def test_ttp_ceasefire_moves_fighters_to_iskp():
    months = 24
    stances = both("engage", "engage", months)
    truce = ensemble(SEEDS, months, events=stances + [hold("militants.ttp.ceasefire", True, months)],
                     militants__ceasefire_break_prob=0.0, pakistan__ttp_talks_prob=0.0)
    no_truce = ensemble(SEEDS, months, events=stances, pakistan__ttp_talks_prob=0.0)
    assert mean_of(truce, "defected_ttp") > 0
    assert mean_of(no_truce, "defected_ttp") == 0
    assert mean_of(truce, "strength_iskp", slice(-1, None)) > mean_of(no_truce, "strength_iskp", slice(-1, None)) + 200


def test_hard_taliban_crackdown_moves_fighters_to_iskp():
    months = 24
    stances = both("engage", "engage", months)
    common = dict(pakistan__ttp_talks_prob=0.0, taliban__cohesion=1.0)
    hard = ensemble(SEEDS, months, events=stances, taliban__restraint_engage=1.0, **common)
    soft = ensemble(SEEDS, months, events=stances, taliban__restraint_engage=0.3, **common)
    assert mean_of(soft, "defected_ttp") == 0
    assert mean_of(hard, "defected_ttp") > 10
    assert mean_of(hard, "strength_iskp", slice(-1, None)) > mean_of(soft, "strength_iskp", slice(-1, None))


def test_mediation_raises_the_chance_of_engagement():
    months, seeds = 60, 10
    mediated = ensemble(seeds, months, mediators__strength_scale=3.0)
    alone = ensemble(seeds, months, mediators__strength_scale=0.0)
    assert mean_of(mediated, "mediation") > 0
    assert mean_of(alone, "mediation") == 0
    assert mean_of(mediated, "pakistan_p_engage") > mean_of(alone, "pakistan_p_engage") + 0.03
    assert mean_of(mediated, "taliban_p_engage") > mean_of(alone, "taliban_p_engage") + 0.03


def test_taliban_cohesion_makes_declared_restraint_effective():
    months = 24
    stances = both("engage", "engage", months)
    cohesive = ensemble(SEEDS, months, events=stances, taliban__cohesion=0.9)
    divided = ensemble(SEEDS, months, events=stances, taliban__cohesion=0.3)
    assert mean_of(cohesive, "taliban_restraint_intent") == mean_of(divided, "taliban_restraint_intent")
    assert mean_of(cohesive, "taliban_effective_restraint") > 2 * mean_of(divided, "taliban_effective_restraint")
    assert mean_of(cohesive, "intensity_ttp") < 0.85 * mean_of(divided, "intensity_ttp")


def test_iran_route_blunts_revenue_loss_from_trade_pressure():
    months = 48
    late = slice(24, None)
    squeeze = [hold("pakistan.stance", "pressure", months)]
    open_trade = [hold("pakistan.stance", "engage", months)]

    def loss(iran: bool) -> float:
        pressed = mean_of(ensemble(SEEDS, months, events=squeeze, influences__iran_route=iran), "taliban_revenue", late)
        engaged = mean_of(ensemble(SEEDS, months, events=open_trade, influences__iran_route=iran), "taliban_revenue", late)
        return engaged - pressed

    without_iran, with_iran = loss(False), loss(True)
    assert without_iran > 0
    assert with_iran < 0.9 * without_iran


def test_pakistan_learns_that_a_stance_failed_when_violence_rises():
    months, surge = 36, 12
    stances = [hold("pakistan.stance", "engage", months)]
    violent = ensemble(SEEDS, months, events=stances + [
        {"date": f"+{surge}", "target": "militants.groups.ttp.attack_rate", "op": "multiply", "value": 3.0}])
    quiet = ensemble(SEEDS, months, events=stances)
    before = slice(surge - 1, surge)
    after = slice(-1, None)
    assert np.isclose(mean_of(violent, "pakistan_attraction_engage", before),
                      mean_of(quiet, "pakistan_attraction_engage", before))
    assert mean_of(violent, "pakistan_attraction_engage", after) < mean_of(quiet, "pakistan_attraction_engage", after) - 0.2
    assert mean_of(violent, "pakistan_p_engage", after) < mean_of(quiet, "pakistan_p_engage", after)
