"""Where evaluations run: the `cluster:` settings (config.py), the evaluator over Dask (evaluator.py) and
SLURM/PBS job queues (jobqueue.py)."""
