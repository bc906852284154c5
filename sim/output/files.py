"""Writing a run's outputs: resolved config, per-month table, event log, metrics, summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    import pandas as pd

    from sim.model.policy_model import PolicyModel


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a killed run never leaves a half file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_run(model: PolicyModel, out_dir: str | Path, raw_config: DictConfig | None = None) -> dict[str, Path]:
    """Write everything one run produces into ``out_dir``; return the paths written."""
    from sim.analysis.metrics import pattern_metrics

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = model.frame()
    paths = {"table": out / "timeseries.csv", "config": out / "config.yaml",
             "events": out / "events.log", "metrics": out / "metrics.json"}
    if raw_config is not None:
        write_atomic(paths["config"], OmegaConf.to_yaml(raw_config, resolve=True))
    tmp = out / ".timeseries.csv.tmp"
    frame.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    os.replace(tmp, paths["table"])
    metrics = pattern_metrics(frame, model.config.extras.get("metrics"))
    write_atomic(paths["metrics"], json.dumps(metrics, indent=2, allow_nan=True) + "\n")
    if model.config.output.event_log:
        write_atomic(paths["events"], "\n".join(model.event_log.lines) + "\n")
    else:
        paths.pop("events")
    if model.config.output.figures:
        from sim.output.dashboard import plot_run

        paths["dashboard"] = plot_run(frame, out / "dashboard.png", title=_title(model))
    return paths


def _title(model: PolicyModel) -> str:
    c = model.config
    return f"Scenario '{c.scenario.name}', seed {c.seed}: {model.start_date:%b %Y} + {model.n_months} months"


def summary(frame: pd.DataFrame, metrics: dict[str, float]) -> list[str]:
    """Five plain lines that say what happened in the run."""
    years = len(frame) / 12
    engaged = (frame["pakistan_stance"] == "engage").mean()
    first, last = frame["date"].iloc[0], frame["date"].iloc[-1]
    switches = int((frame["pakistan_stance"] != frame["pakistan_stance"].shift()).iloc[1:].sum())
    returns = int(frame["returns_voluntary"].sum() + frame["returns_forced"].sum())
    return [
        f"Period: {first:%Y-%m} to {last:%Y-%m} ({len(frame)} months); relations moved "
        f"{frame['relations'].iloc[0]:+.2f} -> {frame['relations'].iloc[-1]:+.2f} (mean {frame['relations'].mean():+.2f}).",
        f"Pakistan engaged {engaged:.0%} of months and switched stance {switches} times; "
        f"the Taliban engaged {(frame['taliban_stance'] == 'engage').mean():.0%}.",
        f"Violence: {int(frame['attacks'].sum())} attacks and {int(frame['deaths_total'].sum())} deaths "
        f"({frame['deaths_total'].sum() / years:.0f} a year; {int(frame['suicide_attacks'].sum())} suicide attacks).",
        f"Trade averaged {frame['trade'].mean():.0f} USD m/month; border closed {int((frame['border'] == 'closed').sum())} months; "
        f"{returns:,} Afghans returned ({int(frame['returns_forced'].sum()):,} forced).",
        f"Pattern: {metrics.get('thaws', float('nan')):.0f} thaws, reversal probability "
        f"{metrics.get('reversal_probability', float('nan')):.2f}, backward/forward ratio "
        f"{metrics.get('backward_forward_ratio', float('nan')):.2f}.",
    ]
