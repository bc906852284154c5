"""A sweep point's identity: its resolved, typed parameter values and the code that runs them.

Two jobs are the same point when the model would run the same configuration with the
same code, however the command spelled it: ``pakistan.tolerance=70`` and ``=70.0``, a
default spelled out (``seed=0``, ``mediators.strength_scale=1``), ``months=120`` in a
120-month scenario, or a setting that changes no result (``output.figures=false``,
``sweep.*``, ``hydra.*``, the experiment's labels) all give one point id. The id hashes:

- the validated ``Config`` (every parameter, events included) **minus** the seed (a
  point's runs differ by seed only; the table has one row per seed) and the output
  switches, with the run length made explicit;
- the checked ``metrics`` and ``history`` branches (they change the numbers of a point
  file); not ``sweep``, ``hydra``, ``experiment`` or ``calibration``;
- for a design sweep (``+design_row=i``), the row number: rows of a Sobol or Morris
  design are separate experiments even when two happen to hold the same values;
- the code version: with ``sweep.code_version: auto`` (the default), ``code_version()``,
  a hash of the sources that decide a point's numbers (``sim/model``, ``sim/agents``,
  ``sim/config``, ``sim/analysis``), the Mesa and NumPy versions and ``POINT_FORMAT``.
  Results made by other code are never mixed into a table as if they were this code's:
  after an edit there, a re-run runs every point again (under new ids) and
  ``python -m sim.aggregate`` leaves the old files out. Any other text pins the version
  (to resume a long sweep after an edit known to change no result).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sim.config import Config

# Version of the point file's layout and of this identity rule; raise it when either changes.
POINT_FORMAT = 2
AUTO = "auto"  # sweep.code_version: derive the version from the sources
PACKAGE_DIR = Path(__file__).resolve().parents[1]
CODE_DIRS = ("model", "agents", "config", "analysis")  # sub-packages whose source decides a point's numbers
NEUTRAL_FIELDS = ("seed", "output")                     # Config fields that change no number of a point
NEUTRAL_EXTRAS = ("sweep", "hydra", "experiment", "calibration")  # branches that change no number


@functools.cache
def code_version() -> str:
    """Short hash of the result-deciding sources and library versions (once a process)."""
    # (library versions from their metadata: the launching process does not import them)
    digest = hashlib.sha256(f"point format {POINT_FORMAT}; mesa {version('mesa')}; numpy {version('numpy')}".encode())
    for sub in CODE_DIRS:
        for path in sorted((PACKAGE_DIR / sub).rglob("*.py")):
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def identity_values(config: Config, design_row: int | None = None) -> dict[str, Any]:
    """The values that make a point what it is, as plain data (see the module docstring)."""
    data = dataclasses.asdict(config)
    for name in NEUTRAL_FIELDS:
        data.pop(name, None)
    data["months"] = config.n_months  # the scenario's own length and that length spelled out are one point
    data["extras"] = {k: v for k, v in data.get("extras", {}).items() if k not in NEUTRAL_EXTRAS}
    if design_row is not None:
        data["design_row"] = int(design_row)
    return data


def resolved_version(chosen: str) -> str:
    """``sweep.code_version`` as the version points are identified with (``auto``: the sources' hash)."""
    return code_version() if chosen == AUTO else f"pinned:{chosen}"


def version_of(config: Config) -> str:
    """The code version a config's points are identified with (``sweep.code_version``)."""
    return resolved_version(str((config.extras.get("sweep") or {}).get("code_version", AUTO)))


def point_id(config: Config, design_row: int | None = None) -> str:
    """The point's id (its file name): a short stable hash of its identity and the code version."""
    text = json.dumps(identity_values(config, design_row), sort_keys=True, default=str)
    return hashlib.sha256(f"{version_of(config)}\n{text}".encode()).hexdigest()[:16]
