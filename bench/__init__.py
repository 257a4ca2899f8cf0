"""Benchmarks: `python -m bench.<name>`, each ending with one JSON line of figures."""
