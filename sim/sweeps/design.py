"""The record of a sweep's design: which points and seeds it expects, and how they are batched.

When a grid sweep starts, its launching process expands and checks every point and
writes the list (``<sweep dir>/.sweep/designs/<invocation>.json``) before any job runs:

- ``points``: one *block* per job Hydra would run without batching: the point's id, its
  override lines (what a job composes, and the command that redoes it), the swept
  parameters at their checked values (the table's columns) and its seeds;
- ``batches``: which blocks each batched job runs (``sweep.points_per_job``);
- ``code_version`` (sim/sweeps/identity.py), ``command`` and ``created``.

Each invocation writes its own file, so sweeps started at once into one folder never
overwrite each other's record. ``python -m sim.aggregate`` expects the union of the
records made by the newest code version, and reports what is missing against it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_DIR = ".sweep"     # sub-folder of the sweep folder holding the design records
DESIGNS_DIR = "designs"


@dataclass
class Block:
    """One job's worth of a point: the point and the seeds this job runs for it."""

    point: str                   # the point id (sim/sweeps/identity.py)
    overrides: list[str]         # the job's override lines, as Hydra would hand them to the job
    params: dict[str, Any]       # swept parameters, by config path, at their checked values
    base_seed: int
    replicates: int
    design_row: int | None = None

    @property
    def seeds(self) -> list[int]:
        return list(range(self.base_seed, self.base_seed + self.replicates))


@dataclass
class Design:
    invocation: str
    code_version: str
    command: str
    created: str
    blocks: list[Block] = field(default_factory=list)
    batches: list[list[int]] = field(default_factory=list)  # indices into blocks, one list per job


def designs_dir(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / STATE_DIR / DESIGNS_DIR


def write_design(sweep_dir: str | Path, design: Design) -> Path:
    """Write the record atomically (a temporary file, then a rename)."""
    folder = designs_dir(sweep_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{design.invocation}.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(design), indent=1, default=str))
    os.replace(tmp, path)
    return path


def _parse(data: dict[str, Any]) -> Design:
    blocks = [Block(**b) for b in data.pop("blocks")]
    return Design(**data, blocks=blocks)


def read_design(sweep_dir: str | Path, invocation: str) -> Design:
    return _parse(json.loads((designs_dir(sweep_dir) / f"{invocation}.json").read_text()))


def read_designs(sweep_dir: str | Path) -> list[Design]:
    """Every readable design record of a sweep folder, oldest first."""
    out = []
    for path in sorted(designs_dir(sweep_dir).glob("*.json")):
        try:
            out.append(_parse(json.loads(path.read_text())))
        except (OSError, ValueError, TypeError, KeyError):
            continue  # a damaged record: the points it listed are judged by the others
    return sorted(out, key=lambda d: d.created)


@dataclass
class Expected:
    """What a folder's designs expect of one point."""

    seeds: set[int]
    blocks: list[Block]  # the blocks that ask for it (their overrides redo it)


def expected_points(designs: list[Design]) -> tuple[dict[str, Expected], Design | None]:
    """The points (and seeds) expected by the designs of the newest code version, and the newest design."""
    if not designs:
        return {}, None
    newest = designs[-1]
    out: dict[str, Expected] = {}
    for design in designs:
        if design.code_version != newest.code_version:
            continue
        for block in design.blocks:
            entry = out.setdefault(block.point, Expected(set(), []))
            entry.seeds.update(block.seeds)
            entry.blocks.append(block)
    return out, newest
