"""Experiments' machinery: Hydra sweeps (points checked and identified before any job runs,
batched jobs, atomic claims and point files) and their aggregation; sim/sweeps/sweep.py
says which module holds what."""
