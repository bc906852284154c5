"""`python -m sim [overrides]`: run one scenario as a Hydra app (the README, "Public interface").

`python -m sim -m [experiment=NAME] [overrides]` runs a sweep (Hydra multirun): each
job is one parameter point run for `sweep.replicates` seeds (sim/sweeps/sweep.py).

Overrides are checked before Hydra starts, so a bad scenario name, an unknown
parameter, a wrong type or an out-of-range value stops the run with one line; for a
sweep every point is checked (and an empty range or unknown experiment refused)
before any job runs.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from sim.config import CONFIG_DIR, ConfigError, load_config, validate

HYDRA_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                          "--experimental-rerun", "--package", "-p", "--info", "-i", "--cfg", "-c"}


MULTIRUN_FLAGS = ("-m", "--multirun")
INFO_FLAGS = ("--help", "-h", "--hydra-help", "--version", "--shell-completion", "-sc", "--cfg", "-c", "--info", "-i",
              "--resolve")


def _is_info(argv: list[str]) -> bool:
    return any(a in INFO_FLAGS or a.startswith("--cfg") or a.startswith("--info") for a in argv)


def _plain_overrides(argv: list[str]) -> list[str] | None:
    """The key=value overrides of a single run, or None when Hydra should handle argv itself."""
    if _is_info(argv) or any(a in MULTIRUN_FLAGS for a in argv):
        return None
    return [a for a in argv if not a.startswith("-") and not a.startswith("hydra.") and not a.startswith("hydra/")]


def _sweep_overrides(argv: list[str]) -> list[str] | None:
    """All overrides (task and hydra) of a multirun, or None when argv is not a sweep to check."""
    if _is_info(argv) or not any(a in MULTIRUN_FLAGS for a in argv):
        return None
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in HYDRA_FLAGS_WITH_VALUE:
            skip = True
        elif not a.startswith("-"):
            out.append(a)
    return out


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> dict | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        from sim.sweeps.sweep import run_point

        return run_point(cfg)

    from sim.model.policy_model import PolicyModel
    from sim.output.files import summary, write_run

    logging.getLogger("MESA").setLevel(logging.WARNING)
    config = validate(cfg)
    model = PolicyModel(config).run()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    paths = write_run(model, out_dir, cfg)
    metrics = json.loads(paths["metrics"].read_text())
    print(f"Wrote results to {out_dir}/")
    for kind, path in paths.items():
        print(f"  {kind:<10} {path.name}")
    for line in summary(model.frame(), metrics):
        print(line)


def cli() -> None:
    argv = sys.argv[1:]
    overrides, sweep = _plain_overrides(argv), _sweep_overrides(argv)
    try:
        if overrides is not None:
            load_config(overrides=overrides)
        elif sweep is not None:
            from sim.sweeps.sweep import check_sweep

            check_sweep(sweep)
            _skip_hydra_recheck()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    main()


def _skip_hydra_recheck() -> None:
    """Let Hydra's sweeper launch without composing every job first: check_sweep just did.

    Hydra's basic sweeper composes each job's config once in this process before it
    launches any (``Sweeper.validate_batch_is_legal``; "can be a bit slow for large
    jobs", says Hydra), about 0.1 s a job while the workers wait, and each job composes
    its config again where it runs. ``check_sweep`` has already composed and validated
    every job, values and ranges included, so that first pass only repeats it.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    BasicSweeper.validate_batch_is_legal = lambda self, batch: None


if __name__ == "__main__":
    cli()
