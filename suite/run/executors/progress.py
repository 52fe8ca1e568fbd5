"""The distributed executor's progress line: which cells are running, and for how long."""

from __future__ import annotations

from collections.abc import Mapping

LABEL_CHARS = 32  # a plugin's method name may be 64 characters; the line must stay one line
CELLS_CHARS = 80  # the running cells' part of the line, at most


def running_description(running: Mapping[str, float], queued: int, teachers: int) -> str:
    """The bar's description: the running cells (longest-running first: a hung cell shows at the front),
    each with its seconds so far, as many as fit in CELLS_CHARS, then how many more, queued and teachers.
    E.g. 'cells (running 3: mrpc/ksp/b0.5/s0 312s, mrpc/dense/b1/s0 20s, +1 more; queued 4)'."""
    shown: list[str] = []
    length = 0
    ordered = sorted(running.items(), key=lambda item: (-item[1], item[0]))
    for index, (label, seconds) in enumerate(ordered):
        cut = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 3] + "..."
        entry = f"{cut} {seconds:.0f}s"
        more = len(ordered) - index - 1
        reserve = len(f", +{more} more") if more else 0
        if shown and length + len(entry) + 2 + reserve > CELLS_CHARS:
            shown.append(f"+{len(ordered) - index} more")
            break
        shown.append(entry)
        length += len(entry) + 2
    cells = f"running {len(running)}" + (f": {', '.join(shown)}" if shown else "")
    return f"cells ({cells}; queued {queued}" + (f"; teachers training {teachers})" if teachers else ")")
