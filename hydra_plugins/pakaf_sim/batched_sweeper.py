"""The project's default sweeper under the name Hydra looks up (configs/hydra/sweeper/batched.yaml).

The implementation and its documentation are in sim/sweeps/sweeper.py.
"""

from sim.sweeps.sweeper import BatchedSweeperImpl


class BatchedSweeper(BatchedSweeperImpl):
    """Hydra's grid sweep with several points per job and a recorded design (sim/sweeps/sweeper.py)."""
