"""Layer 2, statistics: the risk model, evidence, mining and validation, as pure
functions over counts. No I/O."""
