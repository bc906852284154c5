"""Each mechanism of ODD §6 shown by a controlled comparison of runs.

The two runs of a comparison differ in one thing only; stances are forced where the
mechanism is about the world's response, so the comparison is not muddied by the
agents choosing differently. Differences are averaged over seeds.
"""

from __future__ import annotations

import numpy as np

from tests import helpers
from tests.helpers import hold, mean_of

SEEDS = 6


def ensemble(seeds: int, months: int, **changes):
    """Controlled comparisons start from the hand-set defaults (start=stylized), not from the
    record's hand-over: the two runs then differ in the one thing a test changes."""
    return helpers.ensemble(seeds, months, start="stylized", **changes)


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


# ----------------------------------------------------------------------------- issue 11
def test_sheltered_groups_room_to_grow_follows_sanctuary_and_money():
    """Controlled comparison: the same stances, only the TTP's sanctuary and money differ."""
    months = 48
    stances = both("pressure", "pressure", months)
    rich = ensemble(SEEDS, months, events=stances, taliban__ttp_sanctuary=1.0, militants__groups__ttp__funding=1.0)
    poor = ensemble(SEEDS, months, events=stances, taliban__ttp_sanctuary=0.2, militants__groups__ttp__funding=0.2)
    late = slice(-12, None)
    assert mean_of(rich, "capacity_ttp", late) > 1.3 * mean_of(poor, "capacity_ttp", late)
    assert mean_of(rich, "strength_ttp", late) > mean_of(poor, "strength_ttp", late) + 300
    # ... and it shrinks under counter-terror pressure (the same sanctuary and money)
    hunted = ensemble(SEEDS, months, events=stances, pakistan__ct_ops_pressure=1.0)
    spared = ensemble(SEEDS, months, events=stances, pakistan__ct_ops_pressure=0.0)
    assert mean_of(hunted, "capacity_ttp", late) < mean_of(spared, "capacity_ttp", late)


def test_baloch_insurgency_is_driven_by_cpec_exposure_and_repression():
    months = 48
    stances = both("pressure", "pressure", months)
    late = slice(-12, None)
    exposed = ensemble(SEEDS, months, events=stances, influences__cpec_activity=1.0)
    calm = ensemble(SEEDS, months, events=stances, influences__cpec_activity=0.0)
    assert mean_of(exposed, "local_grievance_baloch", late) > mean_of(calm, "local_grievance_baloch", late) + 0.1
    assert mean_of(exposed, "intensity_baloch", late) > 1.1 * mean_of(calm, "intensity_baloch", late)
    # CPEC exposure is the Baloch insurgency's driver, not the TTP's
    assert np.isclose(mean_of(exposed, "local_grievance_ttp", late), mean_of(calm, "local_grievance_ttp", late))


def test_counter_terror_campaign_kills_militants():
    months = 24
    stances = both("pressure", "pressure", months)
    campaign = ensemble(SEEDS, months, events=stances, pakistan__ct_ops_pressure=0.9)
    routine = ensemble(SEEDS, months, events=stances, pakistan__ct_ops_pressure=0.3)
    assert mean_of(campaign, "deaths_militant") > 1.5 * mean_of(routine, "deaths_militant")


def test_strike_or_border_battle_outweighs_mediation_in_the_same_months():
    """Mediation cannot lift relations while fighting goes on."""
    months, start, span = 30, 12, 3
    stances = both("engage", "engage", months)
    china = [hold("mediators.parties.china.relations_threshold", 1.0, span, f"+{start}"),
             hold("mediators.parties.china.strength", 1.0, span, f"+{start}")]
    window = slice(start + span - 1, start + span)
    for fight in (hold("pakistan.strikes", True, span, f"+{start}"),
                  hold("taliban.border_retaliation", True, span, f"+{start}")):
        quiet = ensemble(SEEDS, months, events=stances)
        mediated = ensemble(SEEDS, months, events=stances + china)
        fought = ensemble(SEEDS, months, events=stances + china + [fight], world__trade__retaliation_closure_prob=0.0)
        rise = mean_of(mediated, "relations", window) - mean_of(quiet, "relations", window)
        fall = mean_of(quiet, "relations", window) - mean_of(fought, "relations", window)
        assert rise > 0.02
        assert fall > rise, f"{fight['target']}: fall {fall:.3f} vs mediation's rise {rise:.3f}"


def test_relations_can_hit_bottom_and_recover_slower_than_they_fell():
    months, hit = 36, 12
    stances = both("pressure", "pressure", months)
    collapse = ensemble(SEEDS, months, events=stances + [
        hold("pakistan.strikes", True, 2, f"+{hit}"), hold("taliban.border_retaliation", True, 2, f"+{hit}"),
        hold("world.border", "closed", 4, f"+{hit}")], world__trade__retaliation_closure_prob=0.0)
    floor = min(f["relations"].iloc[hit:hit + 6].min() for f in collapse)
    assert floor <= -0.9, "strikes, battles and a long closure drive relations to the floor"
    before = mean_of(collapse, "relations", slice(hit - 1, hit))
    bottom_at = hit + 3
    bottom = mean_of(collapse, "relations", slice(bottom_at, bottom_at + 1))
    fall_per_month = (before - bottom) / 4
    rise = mean_of(collapse, "relations", slice(bottom_at + 6, bottom_at + 7)) - bottom
    assert rise / 6 < fall_per_month / 2, "recovery is slower than the fall"
    # The scar of the collapse slows recovery: the same relations set by hand, without the fall,
    # recover faster
    set_low = ensemble(SEEDS, months, events=stances + [
        {"date": f"+{bottom_at}", "target": "world.relations", "op": "set", "value": bottom}])
    rise_unscarred = mean_of(set_low, "relations", slice(bottom_at + 6, bottom_at + 7)) - mean_of(
        set_low, "relations", slice(bottom_at, bottom_at + 1))
    assert rise < rise_unscarred


def test_trade_via_pakistan_and_via_iran_respond_to_a_closure_in_opposite_directions():
    months, start = 36, 12
    stances = both("engage", "engage", months)
    closed = ensemble(SEEDS, months, events=stances + [hold("world.border", "closed", 12, f"+{start}")],
                      influences__iran_route=True)
    open_ = ensemble(SEEDS, months, events=stances, influences__iran_route=True)
    window = slice(start + 3, start + 12)
    assert mean_of(closed, "trade", window) < 0.5 * mean_of(open_, "trade", window)
    assert mean_of(closed, "trade_via_iran", window) > 1.1 * mean_of(open_, "trade_via_iran", window)


def test_kabuls_diversification_policy_moves_trade_to_iran_without_a_closure():
    months = 36
    stances = both("engage", "engage", months)
    policy = ensemble(SEEDS, months, events=stances, taliban__diversification_policy=0.5, influences__iran_route=True)
    none = ensemble(SEEDS, months, events=stances, influences__iran_route=True)
    late = slice(-12, None)
    assert mean_of(policy, "taliban_diversification", late) > 0.3
    assert mean_of(policy, "trade", late) < mean_of(none, "trade", late)
    assert mean_of(policy, "trade_via_iran", late) > mean_of(none, "trade_via_iran", late)


def test_returns_follow_the_enforcement_aimed_at_each_status_and_ease_when_it_stops():
    months, start, span = 36, 6, 8
    drive = [hold("pakistan.forced_repatriation", True, span, f"+{start}")]
    aimed = dict(world__refugees__enforcement_undocumented=1.0, world__refugees__enforcement_documented=0.0,
                 world__refugees__enforcement_registered=0.0, world__refugees__fear_spillover=0.1)
    on = ensemble(SEEDS, months, events=drive, **aimed)
    off = ensemble(SEEDS, months, events=[], **aimed)
    peak = slice(start, start + 2)
    assert mean_of(on, "returns_undocumented", peak) > 10 * mean_of(off, "returns_undocumented", peak)
    # the status aimed at leaves far faster than the others (only spill-over fear reaches them)
    rate = {s: mean_of(on, f"returns_{s}", peak) / mean_of(on, f"refugees_{s}", peak)
            for s in ("undocumented", "documented", "registered")}
    assert rate["undocumented"] > 5 * max(rate["documented"], rate["registered"])
    # the campaign eases after its launch, and returns fall back once it stops
    assert mean_of(on, "returns_undocumented", slice(start + span - 2, start + span)) < 0.6 * mean_of(
        on, "returns_undocumented", peak)
    after = slice(start + span + 2, start + span + 6)
    assert mean_of(on, "returns_undocumented", after) < 1.5 * mean_of(off, "returns_undocumented", after)


def test_habituation_raises_pakistans_tolerance_under_sustained_violence():
    months, surge = 36, 6
    stances = [hold("taliban.stance", "pressure", months)]
    surge_event = {"date": f"+{surge}", "target": "militants.groups.ttp.attack_rate", "op": "multiply", "value": 3.0}
    habituating = ensemble(SEEDS, months, events=stances + [surge_event], pakistan__tolerance_adaptation=0.1)
    fixed = ensemble(SEEDS, months, events=stances + [surge_event], pakistan__tolerance_adaptation=0.0)
    late = slice(-12, None)
    base = fixed[0]["tolerance"].iloc[0]
    assert (np.concatenate([f["tolerance"].to_numpy() for f in fixed]) == base).all()
    assert mean_of(habituating, "tolerance", late) > 1.3 * base
    assert min(f["tolerance"].min() for f in habituating) >= base, "tolerance never falls below its start"
    assert mean_of(habituating, "pakistan_p_engage", late) > mean_of(fixed, "pakistan_p_engage", late)
