"""Invariants that must hold in every month of every run, for any seed and parameters."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model.policy_model import PolicyModel
from tests.helpers import config

parameters = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31),
    "pakistan__tolerance": st.floats(5.0, 400.0),
    "pakistan__choice_precision": st.floats(0.0, 10.0),
    "taliban__cohesion": st.floats(0.0, 1.0),
    "taliban__ttp_sanctuary": st.floats(0.0, 1.0),
    "militants__spoiler_scale": st.floats(0.0, 4.0),
    "mediators__strength_scale": st.floats(0.0, 4.0),
    "world__refugees__forced_return_rate": st.floats(0.0, 1.0),
    "world__refugees__voluntary_return_fear_rate": st.floats(0.0, 1.0),
    "world__refugees__status_lapse_rate": st.floats(0.0, 1.0),
    "world__refugees__arrivals_per_month": st.floats(0.0, 100_000.0),
    "world__refugees__enforcement_registered": st.floats(0.0, 1.0),
    "world__refugees__enforcement_documented": st.floats(0.0, 1.0),
    "world__refugees__fear_spillover": st.floats(0.0, 1.0),
    "world__refugees__drive_decay": st.floats(0.0, 1.0),
    "world__refugees__forced_registered_rate": st.floats(0.0, 1.0),
    "world__relations__collapse_recovery_factor": st.floats(0.0, 1.0),
    "taliban__diversification_policy": st.floats(0.0, 1.0),
    "world__trade__fee_elasticity": st.floats(0.0, 20.0),
    "world__relations__trust_recovery_rate": st.floats(0.0, 1.0),
    "influences__iran_route": st.booleans(),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parameters)
def test_stocks_balance_and_stay_in_range(params):
    cfg = config(months=60, start="stylized", **params)
    model = PolicyModel(cfg)
    w = model.world
    stock = w.refugees_in_pakistan
    by_status = (w.refugees_registered, w.refugees_documented, w.refugees_undocumented)
    for _ in range(cfg.n_months):
        model.step()
        w = model.world
        # The refugee stock balances exactly: change = arrivals - returns.
        assert w.refugees_in_pakistan - stock == w.refugee_arrivals - w.returns_voluntary - w.returns_forced
        stock = w.refugees_in_pakistan
        # ... and so does each legal status
        assert w.refugees_registered - by_status[0] == -w.returns_registered
        assert w.refugees_documented - by_status[1] == -w.returns_documented - w.status_lapses
        assert w.refugees_undocumented - by_status[2] == w.refugee_arrivals + w.status_lapses - w.returns_undocumented
        by_status = (w.refugees_registered, w.refugees_documented, w.refugees_undocumented)
        assert w.trade_via_iran >= 0
        assert min(w.refugees_registered, w.refugees_documented, w.refugees_undocumented) >= 0
        assert -1.0 <= w.relations <= 1.0
        assert 0.0 <= w.trust <= 1.0
        assert w.trade >= 0 and w.taliban_revenue >= 0
        assert all(g.strength >= 0 for g in model.militants.values())
        assert w.deaths_total == w.deaths_security + w.deaths_civilian + w.deaths_militant
        assert w.deaths_total == sum(g.deaths for g in model.militants.values())
        assert w.attacks == sum(g.attacks for g in model.militants.values())
        assert 0 <= w.suicide_attacks <= w.attacks
        assert 0.0 <= model.taliban.effective_restraint <= 1.0
        assert 0.0 <= model.pakistan.p_engage <= 1.0


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31))
def test_frame_columns_agree_with_each_other(seed):
    frame = PolicyModel(config(seed=seed, months=48, start="stylized")).run().frame()
    assert len(frame) == 48
    stock = frame["refugees_in_pakistan"].to_numpy()
    flows = (frame["refugee_arrivals"] - frame["returns_voluntary"] - frame["returns_forced"]).to_numpy()
    assert np.array_equal(np.diff(stock), flows[1:])
    status = frame["refugees_registered"] + frame["refugees_documented"] + frame["refugees_undocumented"]
    assert (status == frame["refugees_in_pakistan"]).all()
    groups = [c.removeprefix("attacks_") for c in frame.columns if c.startswith("attacks_")]
    assert (frame[[f"deaths_{g}" for g in groups]].sum(axis=1) == frame["deaths_total"]).all()
    assert set(frame["pakistan_stance"]) <= {"engage", "pressure"}
    assert set(frame["border"]) <= {"open", "restricted", "closed"}
    assert (frame["date"].diff().dropna().dt.days.between(28, 31)).all()
