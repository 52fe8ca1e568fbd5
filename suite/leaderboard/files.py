"""The files of a leaderboard folder, named once: the writer writes them and the README names every one."""

from __future__ import annotations

MARKDOWN, CSV, README = "leaderboard.md", "cells.csv", "README.md"
FLOPS_PLOT, SPEEDUP_PLOT, DIFFERENCE_PLOT = "score_vs_flops.png", "score_vs_speedup.png", "difference_vs_reference.png"
