"""How much evidence a fitness rests on: replicates on shared seeds, budget rungs, racing (selection.py),
and the run's trials (trials.py)."""
