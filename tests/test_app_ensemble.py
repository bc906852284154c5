"""Many seeds at once: each seed is the CLI's run, the summary is the spread, the table one row per seed and month."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.app.app_ensemble import BAND_QUANTILES, ensemble_seeds, run_ensemble
from sim.app.app_model import StudentChoice, TeachingModel
from sim.app.app_settings import SEED_RANGE, check_settings


@pytest.fixture(scope="module")
def ensemble():
    return run_ensemble(check_settings(seed=3, tolerance=120), 30, n_seeds=5)


def test_each_seed_is_the_run_the_cli_makes_with_that_seed(ensemble):
    assert ensemble.seeds == (3, 4, 5, 6, 7)
    for seed in (3, 7):
        cli = sim.build_model("baseline", seed=seed, overrides={"pakistan.tolerance": 120})
        for _ in range(30):
            cli.step()
        pd.testing.assert_frame_equal(ensemble.yours[seed], cli.frame())


def test_the_band_is_the_median_and_the_middle_quantiles_month_by_month(ensemble):
    band = ensemble.band("deaths_total")
    values = np.vstack([ensemble.yours[s]["deaths_total"].to_numpy(float) for s in ensemble.seeds])
    assert len(band) == 30
    assert band["median"].to_numpy() == pytest.approx(np.median(values, axis=0))
    assert band["low"].to_numpy() == pytest.approx(np.quantile(values, BAND_QUANTILES[0], axis=0))
    assert (band["low"] <= band["median"]).all() and (band["median"] <= band["high"]).all()
    share = ensemble.share("pakistan_stance", "engage")
    assert share[0] == pytest.approx(np.mean([ensemble.yours[s]["pakistan_stance"].iloc[0] == "engage"
                                              for s in ensemble.seeds]))


def test_the_table_has_one_row_per_seed_and_month(ensemble):
    table = ensemble.table()
    assert len(table) == 5 * 30 and list(table.columns[:4]) == ["path", "seed", "month", "date"]
    assert set(table["path"]) == {"model"} and table.groupby("seed").size().eq(30).all()
    metrics = ensemble.metrics()
    assert list(metrics["seed"]) == list(ensemble.seeds)
    assert metrics.loc[0, "share_engaged"] == pytest.approx(sim.pattern_metrics(ensemble.yours[3])["share_engaged"])


def test_in_play_mode_every_seed_holds_the_students_choice_beside_the_models_own():
    choice = StudentChoice.for_stance("pressure", {"border_closure": True})
    ensemble = run_ensemble(check_settings(seed=0, play_as_pakistan=True), 8, choice, n_seeds=3)
    for seed in ensemble.seeds:
        mine = ensemble.yours[seed]
        assert (mine["pakistan_stance"] == "pressure").all() and mine["pakistan_border_closure"].all()
        free = TeachingModel(seed=seed)
        for _ in range(8):
            free.step()
        pd.testing.assert_frame_equal(ensemble.models[seed], free.frame())
    table = ensemble.table()
    assert set(table["path"]) == {"yours", "model"} and len(table) == 2 * 3 * 8


def test_seeds_stay_inside_the_seed_range_and_progress_is_reported():
    assert ensemble_seeds(SEED_RANGE[1], 4) == tuple(range(SEED_RANGE[1] - 3, SEED_RANGE[1] + 1))
    seen = []
    run_ensemble(check_settings(seed=0), 2, n_seeds=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
