"""Layer 5, the decide loop: the pipeline's stages, one module each, in the order they
run, over an immutable knowledge snapshot."""
