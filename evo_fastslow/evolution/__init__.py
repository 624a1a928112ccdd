"""Slowest loop: evolution over genomes (searchers, the generation loop, resume from the archive)."""
