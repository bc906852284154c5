"""Hydra plugins of this project (Hydra finds plugins only under the ``hydra_plugins`` namespace)."""
