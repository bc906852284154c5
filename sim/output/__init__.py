"""A run's outputs: the plain-language event log, the run dashboard and the files on disk."""
