"""GLUE metrics: through Hugging Face evaluate (`glue`), and vectorized over bootstrap resamples (`vectorized`)."""
