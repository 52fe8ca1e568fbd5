"""Names of the files a leaderboard folder holds (one place, so the README never names a stale one)."""

MARKDOWN, CSV, README = "leaderboard.md", "cells.csv", "README.md"
FLOPS_PLOT, SPEEDUP_PLOT, DIFFERENCE_PLOT = "score_vs_flops.png", "score_vs_speedup.png", "difference_vs_reference.png"
