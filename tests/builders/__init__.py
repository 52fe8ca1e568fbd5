"""One builder each for what tests need: tiny models, RunContexts, synthetic records."""
