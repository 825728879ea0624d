"""Layer 5, the learn loop: outcomes in memory become validated heuristics and a refitted
risk model."""
