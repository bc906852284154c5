"""A run's folder and outputs: claiming the folder, resolved config, per-month table, event log, metrics, summary."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from sim.model.policy_model import PolicyModel


CLAIM_FILE = ".claimed"  # created exclusively in a run folder: the folder belongs to one run
RUN_FILES = (CLAIM_FILE, ".hydra", "config.yaml", "timeseries.csv", "metrics.json", "events.log", "dashboard.png")


def _claim(folder: Path) -> bool:
    """Take ``folder`` (which exists) for this run; False if another run took it first."""
    try:
        fd = os.open(folder / CLAIM_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(f"pid {os.getpid()} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    return True


def claim_run_dir(path: str | Path, *, fixed: bool, overwrite: bool = False) -> Path:
    """Create the folder of one run atomically and return it; no two runs ever share one.

    ``fixed`` False (the default folder name, which carries the second the run started):
    if another run already has that folder, the next free ``NAME_2``, ``NAME_3``, ... is
    taken. ``fixed`` True (a folder the user named, ``hydra.run.dir=...``): a new or empty
    folder is taken; a folder holding a run is refused unless ``overwrite`` (then it is
    replaced whole, never mixed with the new run's files); a folder holding anything else
    is refused. Raises a one-line ``ConfigError`` when refused.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"hydra.run.dir: cannot create {path.parent} ({exc.strerror})") from None
    candidate, n = path, 1
    while True:
        try:
            candidate.mkdir()
            _claim(candidate)
            return candidate
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigError(f"hydra.run.dir: cannot create {candidate} ({exc.strerror})") from None
        if fixed:
            break
        n += 1
        candidate = path.with_name(f"{path.name}_{n}")
    if not path.is_dir():
        raise ConfigError(f"hydra.run.dir: {path} is a file; give a new or empty folder")
    names = {p.name for p in path.iterdir()}
    if not names and _claim(path):
        return path
    if names and not names & set(RUN_FILES):
        raise ConfigError(f"hydra.run.dir: {path} holds other files; give a new or empty folder")
    if not overwrite:
        raise ConfigError(f"hydra.run.dir: {path} holds another run; give a new folder, or add "
                          f"output.overwrite=true to replace that run whole")
    aside = path.with_name(f".{path.name}.replaced-{os.getpid()}")
    os.replace(path, aside)  # the old run leaves at once; nothing of it mixes with the new one
    shutil.rmtree(aside, ignore_errors=True)
    return claim_run_dir(path, fixed=True, overwrite=False)


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

        paths["dashboard"] = plot_run(frame, out / "dashboard.png", title=_title(model),
                                      history=getattr(model, "replay_frame", None))  # a run from today: the record, shaded
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
