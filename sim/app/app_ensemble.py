"""Many seeds at once: the same settings run over consecutive seeds, summarised month by month.

"The lesson is in the spread": ``run_ensemble`` runs the app's settings over
``n_seeds`` seeds (seed, seed+1, ...) for a given number of months, each run exactly
the run ``TeachingModel`` (and so the CLI) would make with that seed. In play mode
every seed holds the student's current choice, and the model's own policy runs
alongside, so the class sees both paths' spread.

``Ensemble.band`` gives the median and a central band (the quantiles of
``BAND_QUANTILES``) of a column month by month; ``Ensemble.table`` is the long table
(one row per seed and month) the CSV download writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.metrics import pattern_metrics
from sim.app.app_model import StudentChoice, TeachingModel, metrics_params
from sim.app.app_settings import SEED_RANGE, AppSettings

N_SEEDS = 20  # one class: enough for a median and a band, quick on a laptop (about a second)
BAND_QUANTILES = (0.1, 0.9)  # the band drawn around the median: the middle 80% of the runs


@dataclass(frozen=True)
class Ensemble:
    """Runs of one setting over several seeds (``yours``) and, in play mode, the model's own (``models``)."""

    settings: AppSettings
    seeds: tuple[int, ...]
    months: int
    yours: dict[int, pd.DataFrame]
    models: dict[int, pd.DataFrame] | None
    choice: StudentChoice | None
    params: object

    def band(self, column: str, path: str = "yours") -> pd.DataFrame:
        """Month by month: date, the median and the band's low and high edge of ``column`` over the seeds."""
        frames = self.yours if path == "yours" else self.models
        values = np.vstack([frames[s][column].to_numpy(float) for s in self.seeds])
        lo, hi = np.quantile(values, BAND_QUANTILES, axis=0)
        first = frames[self.seeds[0]]
        return pd.DataFrame({"date": first["date"].to_numpy(), "median": np.median(values, axis=0),
                             "low": lo, "high": hi})

    def share(self, column: str, value: str, path: str = "yours") -> np.ndarray:
        """Month by month, the share of the seeds whose ``column`` equals ``value`` (e.g. Pakistan engaged)."""
        frames = self.yours if path == "yours" else self.models
        return np.mean([frames[s][column].to_numpy() == value for s in self.seeds], axis=0)

    def metrics(self, path: str = "yours") -> pd.DataFrame:
        """One row per seed: the pattern metrics of its run."""
        frames = self.yours if path == "yours" else self.models
        return pd.DataFrame([{"seed": s, **pattern_metrics(frames[s], self.params)} for s in self.seeds])

    def table(self) -> pd.DataFrame:
        """The long table: one row per path, seed and month, every frame column."""
        paths = [("yours", self.yours), ("model", self.models)] if self.models is not None else [("model", self.yours)]
        parts = [frames[s].assign(path=path, seed=s) for path, frames in paths for s in self.seeds]
        table = pd.concat(parts, ignore_index=True)
        front = ["path", "seed", "month", "date"]
        return table[front + [c for c in table.columns if c not in front]]


def ensemble_seeds(first: int, n: int = N_SEEDS) -> tuple[int, ...]:
    """``n`` consecutive seeds from ``first``, shifted down so that all stay inside the seed range."""
    first = min(first, SEED_RANGE[1] - n + 1)
    return tuple(range(first, first + n))


def run_ensemble(settings: AppSettings, months: int, choice: StudentChoice | None = None, n_seeds: int = N_SEEDS,
                 progress: Callable[[int, int], None] | None = None) -> Ensemble:
    """Run ``settings`` over ``n_seeds`` seeds for ``months`` months; in play mode hold ``choice`` throughout.

    ``progress(done, total)`` is called after each seed (the page shows it).
    """
    seeds = ensemble_seeds(settings.seed, n_seeds)
    yours, models, params = {}, {} if settings.play_as_pakistan else None, None
    for k, seed in enumerate(seeds):
        model = TeachingModel(settings=dataclasses.replace(settings, seed=seed))
        params = params or metrics_params(model.config)
        if choice is not None and model.play_as_pakistan:
            model.set_choice(choice.stance, dict(choice.instruments))
        for _ in range(min(months, model.n_months)):
            model.step()
        yours[seed] = model.frame()
        if models is not None:
            models[seed] = model.reference.frame()
        if progress is not None:
            progress(k + 1, len(seeds))
    held = choice if settings.play_as_pakistan else None
    return Ensemble(settings, seeds, months, yours, models, held, params)

