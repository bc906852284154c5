"""Run named scenarios as seed ensembles and draw their ensemble figure.

    python -m experiments.scenarios NAME [NAME ...] [--seeds N] [--months M] [--out DIR]
                                    [--jobs J] [--set KEY=VALUE ...]

For each scenario (a file ``configs/scenario/NAME.yaml``) it runs seeds 0..N-1, then
writes into ``DIR/NAME/`` (default ``results/scenarios/NAME/``):

* ``ensemble.png``   one panel per key state field: the ensemble median and the
  5-95% band month by month (for yes/no fields such as "Pakistan engaged" the share
  of runs, which is what a band of 0/1 values would say);
* ``quantiles.csv``  the same numbers (date, field, p05, p50, p95, mean);
* ``summary.csv``    one row per seed: months engaged, deaths, trade, relations, and
  the calibrated parameter set the seed drew (``params_draw``).

A forward scenario runs from today (``start=today``): each seed replays the record with
its own parameter set and continues from December 2025. The figure then shows the
replayed record too, shaded, before the future; the tables cover the forward months.

``--set`` passes config overrides (``--set pakistan.tolerance=50``); ``--list`` prints
the scenarios and their descriptions. The config is composed once and only the seed
varies between runs, so an ensemble of 100 ten-year runs takes a few seconds.
"""

from __future__ import annotations

import argparse
import copy
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import Config, ConfigError, load_config, scenario_names

ROOT = Path(__file__).resolve().parents[1]

# (column, panel title, kind): "band" = median and 5-95% band; "share" = share of runs.
KEY_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("relations", "Relations (-1 hostile .. 1 cooperative)", "band"),
    ("trust", "Trust: Pakistan's belief in Taliban restraint (0-1)", "band"),
    ("pakistan_engaged", "Pakistan engaged (share of runs)", "share"),
    ("taliban_engaged", "Taliban engaged (share of runs)", "share"),
    ("border_closed", "Border closed (share of runs)", "share"),
    ("trade", "Trade (USD million/month)", "band"),
    ("taliban_revenue", "Taliban revenue (USD million/month)", "band"),
    ("refugees_in_pakistan", "Afghans in Pakistan (people)", "band"),
    ("returns", "Returns to Afghanistan (people/month)", "band"),
    ("attacks", "Militant attacks (per month)", "band"),
    ("deaths_total", "Fatalities (per month)", "band"),
    ("strength_ttp", "TTP strength (fighters)", "band"),
)


def with_derived(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the derived fields of the ensemble figure (0/1 stance flags, total returns)."""
    out = frame.copy()
    out["pakistan_engaged"] = (out["pakistan_stance"] == "engage").astype(float)
    out["taliban_engaged"] = (out["taliban_stance"] == "engage").astype(float)
    out["border_closed"] = (out["border"] == "closed").astype(float)
    out["returns"] = out["returns_voluntary"] + out["returns_forced"]
    return out


def _run_one(config: Config, seed: int) -> pd.DataFrame:
    return _run_with_record(config, seed)[1]


def _run_with_record(config: Config, seed: int) -> tuple[pd.DataFrame | None, pd.DataFrame, int | None]:
    """(the replayed record or None, the run's frame, the parameter set drawn or None) of one seed."""
    from sim.model.policy_model import PolicyModel

    cfg = copy.deepcopy(config)
    cfg.seed = int(seed)
    model = PolicyModel(cfg).run()
    return model.replay_frame, model.frame(), model.params_draw


def ensemble(config: Config, seeds, n_jobs: int = 1) -> list[pd.DataFrame]:
    """Run ``config`` once per seed (the config is built once; only the seed varies)."""
    seeds = [int(s) for s in seeds]
    if n_jobs == 1:
        return [_run_one(config, s) for s in seeds]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(_run_one)(config, s) for s in seeds)


def quantiles(frames: list[pd.DataFrame], fields=KEY_FIELDS) -> pd.DataFrame:
    """Month-by-month p05, p50, p95 and mean of each field over the ensemble."""
    frames = [with_derived(f) for f in frames]
    dates = frames[0]["date"].to_numpy()
    rows = []
    for col, _, _ in fields:
        if col not in frames[0]:
            continue
        values = np.vstack([f[col].to_numpy(dtype=float) for f in frames])
        p05, p50, p95 = np.percentile(values, [5, 50, 95], axis=0)
        rows.append(pd.DataFrame({"date": dates, "field": col, "p05": p05, "p50": p50, "p95": p95,
                                  "mean": values.mean(axis=0)}))
    return pd.concat(rows, ignore_index=True)


def summary(frames: list[pd.DataFrame], seeds, draws=None) -> pd.DataFrame:
    """One row per run: what a reader compares across scenarios."""
    rows = []
    draws = list(draws) if draws is not None else [None] * len(frames)
    for seed, f, draw in zip(seeds, frames, draws):
        rows.append({
            "seed": int(seed),
            "params_draw": draw,
            "months": len(f),
            "share_pakistan_engaged": float((f["pakistan_stance"] == "engage").mean()),
            "share_taliban_engaged": float((f["taliban_stance"] == "engage").mean()),
            "mean_relations": float(f["relations"].mean()),
            "mean_trust": float(f["trust"].mean()),
            "attacks": int(f["attacks"].sum()),
            "deaths_total": int(f["deaths_total"].sum()),
            "mean_trade": float(f["trade"].mean()),
            "mean_taliban_revenue": float(f["taliban_revenue"].mean()),
            "returns_forced": int(f["returns_forced"].sum()),
            "final_strength_ttp": float(f["strength_ttp"].iloc[-1]),
            "final_strength_iskp": float(f["strength_iskp"].iloc[-1]) if "strength_iskp" in f else float("nan"),
        })
    return pd.DataFrame(rows)


def plot_ensemble(q: pd.DataFrame, path: Path, title: str, fields=KEY_FIELDS, ncols: int = 3,
                  handover=None) -> Path:
    """The ensemble figure: one panel per field, median line and 5-95% band.

    ``handover`` (the first forward month of a run from today): the months before it are
    the replayed record, shaded.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from sim.output.dashboard import RECORD_COLOUR

    present = [f for f in fields if f[0] in set(q["field"])]
    nrows = -(-len(present) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.0 * nrows), sharex=True, squeeze=False)
    for ax, (col, label, kind) in zip(axes.flat, present):
        d = q[q["field"] == col]
        if handover is not None:
            ax.axvspan(d["date"].min(), pd.Timestamp(handover), color=RECORD_COLOUR, zorder=0, lw=0)
            ax.axvline(pd.Timestamp(handover), color="black", lw=0.8)
        if kind == "share":
            colour = "#808080" if col == "border_closed" else "#4daf4a"  # grey = closed border, green = engaged
            ax.fill_between(d["date"], 0, d["mean"], step="mid", color=colour, alpha=0.5, lw=0)
            ax.set_ylim(0, 1)
        else:
            ax.fill_between(d["date"], d["p05"], d["p95"], color="#377eb8", alpha=0.25, lw=0, label="5-95%")
            ax.plot(d["date"], d["p50"], color="#377eb8", lw=1.5, label="median")
        ax.set_title(label, fontsize=12)
        ax.tick_params(labelsize=11)
    for ax in list(axes.flat)[len(present):]:
        ax.set_visible(False)
    handles, _ = axes.flat[0].get_legend_handles_labels()
    if handover is not None:
        handles.append(Patch(color=RECORD_COLOUR, label="replayed record"))
    fig.legend(handles=handles, loc="lower center", fontsize=12, frameon=False, ncol=len(handles))  # off the data
    fig.suptitle(title, fontsize=13, x=0.01, ha="left")
    return save_figure(fig, path)


def save_figure(fig, path: Path) -> Path:
    """Lay out, write (creating the folder) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_scenario(name: str, seeds: int, months: int | None, out: Path, n_jobs: int = 1,
                 overrides: list[str] | None = None) -> dict[str, Path]:
    """Run one named scenario's ensemble and write its figure and tables into ``out/name``."""
    config = load_config(name, months=months, overrides=overrides)
    seed_list = list(range(seeds))
    if n_jobs == 1:
        results = [_run_with_record(config, s) for s in seed_list]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs)(delayed(_run_with_record)(config, s) for s in seed_list)
    records, frames, draws = zip(*results)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"quantiles": folder / "quantiles.csv", "summary": folder / "summary.csv"}
    quantiles(list(frames)).to_csv(paths["quantiles"], index=False, date_format="%Y-%m-%d")
    summary(list(frames), seed_list, draws).to_csv(paths["summary"], index=False)
    title = (f"Scenario '{name}': {seeds} seeds, {config.n_months} months from {config.scenario.start_date} "
             "(median and 5-95% band)")
    handover = None
    if records[0] is not None:  # from today: the record each seed replayed, then its future
        handover = frames[0]["date"].iloc[0]
        frames = [pd.concat([r[f.columns.intersection(r.columns)], f[f.columns.intersection(r.columns)]],
                            ignore_index=True) for r, f in zip(records, frames)]
        title += f"\nshaded: the record replayed with each seed's calibrated parameter set ({len(set(draws))} sets drawn)"
    paths["figure"] = plot_ensemble(quantiles(list(frames)), folder / "ensemble.png", title, handover=handover)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.scenarios", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="scenario names (configs/scenario/NAME.yaml)")
    ap.add_argument("--seeds", type=int, default=50, help="number of seeds, 0..N-1 (default 50)")
    ap.add_argument("--months", type=int, default=None, help="months to run (default: the scenario's own)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "scenarios", help="output folder")
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes (default 1)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, repeatable (e.g. --set pakistan.tolerance=50)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and their descriptions")
    args = ap.parse_args(argv)
    if args.list:
        for name in scenario_names():
            desc = load_config(name).scenario.description
            print(f"{name}:\n" + textwrap.indent(textwrap.fill(desc, 88), "    "))
        return 0
    if not args.names:
        ap.error("give at least one scenario name (or --list)")
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")

    def work() -> None:
        for name in args.names:
            paths = run_scenario(name, args.seeds, args.months, args.out, args.jobs, args.overrides)
            print(f"{name}: wrote {paths['figure']}, {paths['quantiles'].name}, {paths['summary'].name}")

    return exit_code(work)


def exit_code(work) -> int:
    """Run a command's work: 0 when done, 2 with a one-line ``error: ...`` on bad input."""
    try:
        work()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
