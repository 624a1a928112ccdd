"""How genomes are proposed: the searcher interface (base.py), the shipped searchers (one module each),
and how a run config names one (registry.py): ga, cmaes, snes, aging, map-elites, nsga2, and, as optional
extras, Optuna's tpe / optuna and nevergrad's de / ngopt / nevergrad."""
