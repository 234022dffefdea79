"""The Go load generator and LITE sink (loadgen/) and its Python driver (load.py)."""
