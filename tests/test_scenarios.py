"""Every named scenario runs from today, and differs from the baseline in the direction it claims.

Each claim below restates the "Expected:" sentence of the scenario's description
(configs/scenario/NAME.yaml). A claim compares the mean over the same seeds (common
random numbers) of one statistic of the scenario's runs with the reference
scenario's. Every forward scenario starts from today (``start=today``, the default):
the record replayed to November 2025 with the seed's parameter set, then the
scenario's changes from December 2025; a scenario and the baseline share the replay
of each seed, so the claims compare futures from the same past. Seeds and months are
kept small enough for the whole file to run in about half a minute; where the claim
concerns the first years, only those months count.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from experiments.scenarios import KEY_FIELDS, ensemble, main, quantiles
from sim.config import load_config, scenario_names

SEEDS = range(12)
MONTHS = 96  # eight years: long enough for every stance cycle the claims rely on

NAMED = ("baseline", "pressure_first", "engagement_first", "china_mediation", "no_mediators", "ttp_talks",
         "iran_route", "india_outreach", "cohesive_taliban", "low_tolerance", "history_2021_2025")


@functools.cache
def runs(name: str) -> tuple[pd.DataFrame, ...]:
    months = None if name.startswith("history") else MONTHS
    return tuple(ensemble(load_config(name, months=months), SEEDS))


def mean_of(name: str, stat) -> float:
    return float(np.mean([stat(f) for f in runs(name)]))


STATS = {
    "months engaged (Pakistan)": lambda f: (f["pakistan_stance"] == "engage").mean(),
    "mean relations": lambda f: f["relations"].mean(),
    "mean relations, first 24 months": lambda f: f["relations"].iloc[:24].mean(),
    "mean trade, first 24 months": lambda f: f["trade"].iloc[:24].mean(),
    "forced returns, first 24 months": lambda f: f["returns_forced"].iloc[:24].sum(),
    "TTP attacks, first 24 months": lambda f: f["attacks_ttp"].iloc[:24].sum(),
    "ISKP attacks, first 24 months": lambda f: f["attacks_iskp"].iloc[:24].sum(),
    "TTP attacks, first 12 months": lambda f: f["attacks_ttp"].iloc[:12].sum(),
    "TTP attacks": lambda f: f["attacks_ttp"].sum(),
    "Baloch attacks": lambda f: f["attacks_baloch"].sum(),
    "final ISKP strength": lambda f: f["strength_iskp"].iloc[-1],
    "mean Taliban revenue": lambda f: f["taliban_revenue"].mean(),
    "Taliban revenue in squeezed months": lambda f: f.loc[f["border"] != "open", "taliban_revenue"].mean(),
    "mean trust": lambda f: f["trust"].mean(),
    "mean trade": lambda f: f["trade"].mean(),
    "fatalities": lambda f: f["deaths_total"].sum(),
}

# (scenario, statistic, direction, reference): "scenario's mean is higher/lower than the reference's".
CLAIMS = [
    ("pressure_first", "mean relations, first 24 months", "lower", "baseline"),
    ("pressure_first", "mean trade, first 24 months", "lower", "baseline"),
    ("pressure_first", "forced returns, first 24 months", "higher", "baseline"),
    ("pressure_first", "TTP attacks, first 24 months", "not lower", "baseline"),
    ("engagement_first", "mean relations, first 24 months", "higher", "baseline"),
    ("engagement_first", "mean trade, first 24 months", "higher", "baseline"),
    ("engagement_first", "ISKP attacks, first 24 months", "higher", "baseline"),
    ("china_mediation", "months engaged (Pakistan)", "higher", "baseline"),
    ("china_mediation", "months engaged (Pakistan)", "higher", "no_mediators"),
    ("china_mediation", "mean relations", "higher", "baseline"),
    ("china_mediation", "Baloch attacks", "higher", "baseline"),
    ("no_mediators", "months engaged (Pakistan)", "lower", "baseline"),
    ("no_mediators", "mean relations", "lower", "baseline"),
    ("ttp_talks", "TTP attacks", "lower", "baseline"),  # from today talks wait until Pakistan engages again
    ("ttp_talks", "final ISKP strength", "higher", "baseline"),
    ("iran_route", "mean Taliban revenue", "higher", "baseline"),
    ("iran_route", "Taliban revenue in squeezed months", "higher", "baseline"),
    ("india_outreach", "months engaged (Pakistan)", "higher", "baseline"),
    ("cohesive_taliban", "TTP attacks", "lower", "baseline"),
    ("cohesive_taliban", "mean trust", "higher", "baseline"),
    ("cohesive_taliban", "final ISKP strength", "higher", "baseline"),
    ("low_tolerance", "months engaged (Pakistan)", "lower", "baseline"),
    ("low_tolerance", "mean trade", "lower", "baseline"),
    ("low_tolerance", "fatalities", "higher", "baseline"),
]


def test_every_named_scenario_has_a_file_and_a_question():
    names = scenario_names()
    for name in NAMED:
        assert name in names, f"configs/scenario/{name}.yaml is missing"
        desc = load_config(name).scenario.description
        assert "?" in desc, f"{name}: the description should ask its question"


@pytest.mark.parametrize("name", NAMED)
def test_scenario_runs_to_completion(name):
    config = load_config(name, months=None if name.startswith("history") else MONTHS)
    frames = runs(name)
    for f in frames:
        assert len(f) == config.n_months
        assert f["date"].iloc[0] == pd.Timestamp(config.scenario.start_date + "-01")
        assert f[["relations", "trust", "trade", "deaths_total"]].notna().all().all()


def test_forward_scenarios_start_from_todays_state_with_their_changes():
    """Same seed, same past: each scenario's first month continues the baseline's replay, then its changes act."""
    month = pd.Timestamp(load_config("baseline").scenario.start_date + "-01")
    for name in NAMED:
        if name.startswith("history"):
            continue
        for f in runs(name):
            assert f["date"].iloc[0] == month, name
    for f in runs("engagement_first"):
        # December 2025: Pakistan reopens the crossings and returns to talks
        assert f["pakistan_stance"].iloc[0] == "engage" and f["border"].iloc[0] == "open"
        assert f["pakistan_talks"].iloc[0]
    assert any(b["border"].iloc[0] != "open" for b in runs("baseline"))  # the reopening is a change from today
    for f in runs("pressure_first"):
        assert (f["pakistan_stance"].iloc[:24] == "pressure").all()  # Pakistan keeps pressing for two years


def test_every_generic_scenario_has_a_claim():
    claimed = {c[0] for c in CLAIMS}
    missing = [n for n in NAMED if n not in claimed and n not in ("baseline", "history_2021_2025")]
    assert not missing, f"scenarios without a tested claim: {missing}"


@pytest.mark.parametrize("name,stat,direction,ref", CLAIMS, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CLAIMS])
def test_scenario_differs_from_reference_as_claimed(name, stat, direction, ref):
    ours, theirs = mean_of(name, STATS[stat]), mean_of(ref, STATS[stat])
    if direction == "higher":
        assert ours > theirs, f"{name}: {stat} {ours:.4g} should be higher than {ref}'s {theirs:.4g}"
    elif direction == "lower":
        assert ours < theirs, f"{name}: {stat} {ours:.4g} should be lower than {ref}'s {theirs:.4g}"
    else:  # "not lower": within 5% below or anything above
        assert ours >= 0.95 * theirs, f"{name}: {stat} {ours:.4g} should not fall below {ref}'s {theirs:.4g}"


def test_claims_are_not_trivially_true():
    """The comparison can fail: the baseline is not 'higher' than itself on any statistic."""
    for stat in STATS.values():
        assert not mean_of("baseline", stat) > mean_of("baseline", stat)
    # and a claim reversed fails: china_mediation is not engaged less than no_mediators
    assert not (mean_of("china_mediation", STATS["months engaged (Pakistan)"])
                < mean_of("no_mediators", STATS["months engaged (Pakistan)"]))


def test_ensemble_quantiles_are_ordered_and_cover_every_key_field():
    q = quantiles(list(runs("baseline")))
    assert set(q["field"]) == {f[0] for f in KEY_FIELDS}
    assert (q["p05"] <= q["p50"] + 1e-9).all() and (q["p50"] <= q["p95"] + 1e-9).all()
    assert len(q) == len(KEY_FIELDS) * MONTHS


def test_command_writes_the_ensemble_figure(tmp_path):
    assert main(["iran_route", "--seeds", "3", "--months", "24", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "iran_route"
    assert (folder / "ensemble.png").stat().st_size > 10_000
    q = pd.read_csv(folder / "quantiles.csv")
    assert q["date"].nunique() == 24
    assert len(pd.read_csv(folder / "summary.csv")) == 3


def test_command_rejects_an_unknown_scenario_with_one_line(tmp_path, capsys):
    assert main(["no_such_scenario", "--seeds", "2", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: scenario: unknown scenario 'no_such_scenario'") and "\n" not in err
