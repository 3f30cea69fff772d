"""``xgbapi``: the product's one command line (see cli/main.py)."""
