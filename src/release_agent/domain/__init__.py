"""Layer 1, the domain: records, the attribute registry, conditions, policy, options and
estimates. It imports nothing else of release-agent."""
