"""Small helpers for CSV files."""

import csv


def read_rows(path):
    """The data rows of a CSV file, as dicts keyed by the header."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
