"""`python -m sim [overrides]`: run one scenario as a Hydra app (DESIGN §11).

Overrides are checked before Hydra starts, so a bad scenario name, an unknown
parameter, a wrong type or an out-of-range value stops the run with one line.
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


def _plain_overrides(argv: list[str]) -> list[str] | None:
    """The key=value overrides of a single run, or None when Hydra should handle argv itself."""
    if any(a in ("-m", "--multirun", "--help", "-h", "--hydra-help", "--version", "--shell-completion", "-sc")
           or a.startswith("--cfg") or a.startswith("--info") for a in argv):
        return None
    return [a for a in argv if not a.startswith("-") and not a.startswith("hydra.") and not a.startswith("hydra/")]


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from sim.model import PolicyModel
    from sim.outputs import summary, write_run

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
    overrides = _plain_overrides(sys.argv[1:])
    if overrides is not None:
        try:
            load_config(overrides=overrides)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
    main()


if __name__ == "__main__":
    cli()
