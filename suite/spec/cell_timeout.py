"""The per-cell time limit as a setting: seconds, `auto` or `off`. How long a cell may run decides
only when a hung cell is given up on, never what a finished cell computed, so it is no part of any
config hash.

`auto` (the default) learns the limit from the run itself: AUTO_FACTOR times the mean wall time of
the cells of the same task that this run has finished, and never under AUTO_FLOOR_S. The cells of
one task share their data and schedule; methods differ by up to about 3x in step cost, and a cell
that trains its teacher first takes up to 1.5x more, so 10x is well clear of any cell that is merely
slow. The mean is per task because tasks are not alike (full MNLI is over 100x RTE), and a task
with no finished cell yet has no limit. The floor keeps a noisy machine from failing short cells.
"""

from __future__ import annotations

import math

from suite.errors import SuiteError

AUTO = "auto"
OFF = "off"
AUTO_FACTOR = 10.0
AUTO_FLOOR_S = 600.0

CellTimeout = float | str  # seconds (> 0), AUTO or OFF

CELL_TIMEOUT_HELP = (
    "per-cell time limit: SECONDS, 'auto' (default: 10x the mean time of this run's finished cells of "
    "the same task, at least 10 min; none before one has finished) or 'off' (or 0); a cell past it is "
    "recorded failed ('exceeded N s') and the grid goes on. In-process, a hang inside one native call "
    "(a single torch op, a C extension) is only noticed when that call returns"
)


def parse_cell_timeout(value: object) -> CellTimeout:
    """A setting from the command line or a preset: a positive number of seconds, 'auto', or 'off'
    (0 means off too). Anything else is one SuiteError line."""
    text = str(value).strip().lower()
    if text in (AUTO, OFF):
        return text
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if seconds == 0:
        return OFF
    if not math.isfinite(seconds) or seconds < 0:
        raise SuiteError(f"cell timeout must be a positive number of seconds, 'auto' or 'off' (or 0), got '{value}'")
    return seconds


def describe(setting: CellTimeout) -> str:
    """The setting as the command line spells it, for messages."""
    return setting if isinstance(setting, str) else f"{setting:g}"
