"""SYNTHETIC test data derived from the real FY2021 (R3) sheet: see `generate.py`.

Nothing produced here is real data; file names start with `SYNTHETIC_`.
"""
