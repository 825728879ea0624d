"""Episodic memory: the store, its schema and locked migrations, the outcome counts per
context cell, the published knowledge snapshots, the learner's lock, and the seed's file
format. The only place with SQL."""
