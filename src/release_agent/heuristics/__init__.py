"""Heuristics: matching against a context, validation, and mining from outcomes."""
