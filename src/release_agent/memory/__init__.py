"""Episodic memory: the store, its schema and migrations, and the seed's file format."""
