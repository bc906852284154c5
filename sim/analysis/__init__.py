"""Analysis of runs: the pattern metrics of "one step forward, two steps back"."""
