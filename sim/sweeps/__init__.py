"""Experiments' machinery: Hydra sweeps (one job per point x seeds) and their aggregation."""
