"""Layer 5, the learn loop: outcomes in memory become validated heuristics and a refitted
risk model, published as a new knowledge snapshot; run once (:mod:`.loop`) or in the
background (:mod:`.worker`)."""
