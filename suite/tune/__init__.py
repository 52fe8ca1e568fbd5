"""`tune`: every method tuned with the same number of trials on the held-out split (suite.cli.tune)."""
