"""How a searcher is driven: generation by generation, or steady-state under the lag rule; both see the
run only through its context (context.py)."""
