"""Reasoners: the built-in one, and LLM-backed ones behind the same protocol."""
