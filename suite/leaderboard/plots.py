"""Plots (PNG) of the board: score against FLOPs and against speedup, and each row's difference to the
reference. One panel per task and one for the GLUE average; error bars are the 95% bootstrap CIs
(none where a row has no per-example predictions); the reference and the trivial baseline are lines.
The speedup plot has one row of such panels per engine: PyTorch's, then each exported-model engine
the records were timed on."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # files only; never a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from suite.leaderboard.board import Board
from suite.leaderboard.engines import best_config, pooled
from suite.leaderboard.estimates import Estimate
from suite.leaderboard.files import DIFFERENCE_PLOT, FLOPS_PLOT, SPEEDUP_PLOT
from suite.leaderboard.rows import REFERENCE, Row
from suite.leaderboard.tables import table_budgets
from suite.records.schema import ROLE_METHOD, ROLE_TRIVIAL

AVERAGE = "average"
X_AXES = {
    "fraction": ("effective FLOP fraction (of the unpruned model)", FLOPS_PLOT),
    "speedup": ("measured batch-32 CPU speedup over the unpruned model", SPEEDUP_PLOT),
}
BUDGET_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
FRONTIER_STYLES = ("-", "--", ":", "-.")


@dataclass(frozen=True)
class Point:
    row: Row
    x: float
    estimate: Estimate

    @property
    def yerr(self) -> tuple[float, float]:
        ci = self.estimate.ci
        return (0.0, 0.0) if ci is None else (self.estimate.value - ci.low, ci.high - self.estimate.value)


def panels(board: Board) -> list[str | None]:
    """Task panels, then the average (None) where it spans more than one task."""
    return [*board.tasks, *([None] if len(board.average_tasks) > 1 else [])]


def _title(board: Board, task: str | None) -> str:
    if task is None:
        return f"{AVERAGE} ({', '.join(board.average_tasks)})"
    return task if board.signal[task].in_average else f"{task} (no signal: not in the average)"


XValue = Callable[[pd.DataFrame], float | None]  # a row's `ok` cells of a panel -> its x


def column_mean(column: str) -> XValue:
    def mean(cells: pd.DataFrame) -> float | None:
        values = cells[column].dropna()
        return float(values.mean()) if len(values) else None

    return mean


def engine_mean(engine: str) -> XValue:
    """The mean batch-32 speedup on `engine` in the row's best precision there.

    One panel per engine, each row at its best precision, rather than one per (engine, precision): the
    y axis is the PyTorch score whatever the engine, so an engine's precisions would be panels of the
    same points at other x, doubling the grid; and the row's best precision is what the table's engine
    column picks too (`engines.best_config`), so plot and table agree."""

    def mean(cells: pd.DataFrame) -> float | None:
        best = best_config(pooled(cells.engine_speedups, engine))
        return None if best is None else float(np.mean(best[1]))

    return mean


def _x_value(board: Board, row: Row, task: str | None, x: XValue) -> float | None:
    f = board.frame
    cells = f[(f.role == row.role) & (f.method == row.method) & (f.budget == row.budget) & (f.status == "ok")]
    if task is not None:
        cells = cells[cells.task == task]
    else:
        cells = cells[cells.task.isin(board.average_tasks)]
    return x(cells)


def points(board: Board, task: str | None, x: XValue) -> list[Point]:
    """Every method row (the reference included) with a score and an x on this panel."""
    out = []
    for row in board.rows():
        if row.role != ROLE_METHOD:
            continue
        estimate, value = board.estimate(row, task), _x_value(board, row, task, x)
        if estimate is not None and value is not None and value > 0:
            out.append(Point(row, value, estimate))
    return out


@dataclass(frozen=True)
class XAxis:
    """One kind of x of a plot: a row of panels (one per task and the average) along it."""

    label: str
    x: XValue
    title: str = ""  # before each panel's task, where a plot has several rows of panels


PYTORCH = "PyTorch"


def engines_in(board: Board) -> list[str]:
    """Exported-model engines some `ok` cell has a speedup on, by name."""
    f = board.frame
    return sorted({config[0] for per_cell in f[f.status == "ok"].engine_speedups for config in per_cell})


def x_axes(board: Board, column: str) -> list[XAxis]:
    """The FLOP fraction; or PyTorch's speedup, then each engine's, where the records have engine figures."""
    label, _ = X_AXES[column]
    engines = engines_in(board) if column == "speedup" else []
    first = XAxis(label, column_mean(column), PYTORCH if engines else "")
    return [first] + [
        XAxis(f"batch-32 speedup on {engine} over its unpruned model (best precision)", engine_mean(engine), engine)
        for engine in engines
    ]


def _colors(board: Board) -> dict[str, tuple]:
    methods = sorted({r.method for r in board.rows() if r.role == ROLE_METHOD})
    return {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}


def _baselines(ax: Axes, board: Board, task: str | None) -> None:
    """The reference as a solid line with its CI as a band, the trivial baseline dashed."""
    reference = board.estimate(REFERENCE, task)
    if reference is not None:
        ax.axhline(reference.value, color="black", linewidth=1.3, label="reference (dense, budget 1)")
        if reference.ci is not None:
            ax.axhspan(reference.ci.low, reference.ci.high, color="0.25", alpha=0.08, linewidth=0)
    trivial_rows = [r for r in board.rows() if r.role == ROLE_TRIVIAL]
    trivial = board.estimate(trivial_rows[0], task) if trivial_rows else None
    if trivial is not None:
        ax.axhline(trivial.value, color="0.5", linestyle="--", linewidth=1, label="trivial baseline")


def _pareto(items: list[Point]) -> list[Point]:
    """Points no other point beats on both speedup and score, by increasing speedup."""
    front = []
    for p in sorted(items, key=lambda p: (-p.x, -p.estimate.value)):
        if not front or p.estimate.value > front[-1].estimate.value:
            front.append(p)
    return sorted(front, key=lambda p: p.x)


def _draw_flops(ax: Axes, board: Board, data: list[Point], colors: dict[str, tuple]) -> None:
    for method in sorted({p.row.method for p in data}):
        mine = sorted((p for p in data if p.row.method == method), key=lambda p: p.row.budget)
        reference = all(p.row.budget == REFERENCE.budget for p in mine)
        ax.errorbar(
            [p.x for p in mine],
            [p.estimate.value for p in mine],
            yerr=np.array([p.yerr for p in mine]).T,
            label=method,
            color=colors[method],
            marker="*" if reference else "o",
            markersize=10 if reference else 5,
            linestyle="none" if reference else "-",  # along the FLOP axis the budgets are ordered
            capsize=3,
        )


def _draw_speedup(ax: Axes, board: Board, data: list[Point], colors: dict[str, tuple]) -> None:
    # Speedups of one method zigzag across budgets (sparse kernels help late), so no lines join a
    # method's points; each budget's frontier is the comparison a reader wants from this plot.
    budgets = table_budgets(board)
    for point in data:
        marker = "*" if point.row.budget == REFERENCE.budget else BUDGET_MARKERS[budgets.index(point.row.budget) % 7]
        ax.errorbar(
            [point.x],
            [point.estimate.value],
            yerr=np.array([point.yerr]).T,
            color=colors[point.row.method],
            marker=marker,
            markersize=9 if marker == "*" else 6,
            linestyle="none",
            capsize=3,
            label=point.row.method,
        )
    for i, budget in enumerate(budgets):
        front = _pareto([p for p in data if p.row.budget == budget])
        if len(front) > 1:
            ax.plot(
                [p.x for p in front],
                [p.estimate.value for p in front],
                color="0.6",
                linestyle=FRONTIER_STYLES[i % len(FRONTIER_STYLES)],
                linewidth=1,
                # Vertical first: between two frontier points only the faster one's score is reachable.
                drawstyle="steps-pre",
                label=f"Pareto frontier, budget {budget:g}",
            )


def _legend(fig: Figure, axes: np.ndarray, ncols: int, extra: dict | None = None) -> None:
    entries: dict = {}  # one entry per label, whichever panel drew it
    for ax in axes.flat:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(name, handle)
    entries.update(extra or {})
    fig.tight_layout()
    # Below the panels; bbox_inches="tight" grows the image to hold it, so no entry is clipped.
    fig.legend(
        list(entries.values()),
        list(entries),
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=max(1, min(len(entries), 3 * ncols)),
        frameon=False,
    )


def _grid(sizes: list[int]) -> tuple[Figure, np.ndarray, list[list[Axes]], int]:
    """Blocks of `sizes` panels, each starting a row of its own (an engine's panels never share a row
    with the next engine's); the figure, all its axes, each block's panels and the column count."""
    ncols = min(3, max(sizes))
    heights = [-(-n // ncols) for n in sizes]
    fig, axes = plt.subplots(sum(heights), ncols, figsize=(5.2 * ncols, 4.0 * sum(heights)), squeeze=False)
    blocks, top = [], 0
    for n, height in zip(sizes, heights, strict=True):
        mine = list(axes[top : top + height].flat)
        for ax in mine[n:]:
            ax.set_visible(False)
        blocks.append(mine[:n])
        top += height
    return fig, axes, blocks, ncols


def _png(fig: Figure, name: str) -> tuple[str, bytes]:
    # No "Software" text chunk (it names the matplotlib version): same records, same bytes where possible.
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return name, buffer.getvalue()


def scores_figure(board: Board, column: str) -> Figure | None:
    """Score against `column` ("fraction" or "speedup"; for speedups a row of panels per engine);
    None when nothing can be plotted."""
    blocks = []
    for axis in x_axes(board, column):
        shown = [(task, data) for task in panels(board) if (data := points(board, task, axis.x))]
        if shown:
            blocks.append((axis, shown))
    if not blocks:
        return None
    colors = _colors(board)
    fig, axes, grid, ncols = _grid([len(shown) for _, shown in blocks])
    extra = {}
    for (axis, shown), block in zip(blocks, grid, strict=True):
        for ax, (task, data) in zip(block, shown, strict=True):
            _baselines(ax, board, task)
            if column == "fraction":
                _draw_flops(ax, board, data, colors)
            else:
                _draw_speedup(ax, board, data, colors)
            ax.set_xscale("log")
            if column == "fraction":  # ticks at the budgets: the grid the methods were asked to meet
                ax.set_xticks(sorted({p.row.budget for p in data}))
            else:  # 1, 2, 5, 10: a log axis of speedups needs labels between the decades
                ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            title = _title(board, task)
            ax.set_title(f"{axis.title}: {title}" if axis.title else title)
            ax.set_xlabel(axis.label, fontsize=8)
            ax.set_ylabel("score (mean over seeds, 95% CI)", fontsize=8)
            ax.grid(True, which="both", alpha=0.3)
    if column == "speedup":
        for i, budget in enumerate(table_budgets(board)):
            marker = BUDGET_MARKERS[i % 7]
            extra[f"budget {budget:g}"] = plt.Line2D([], [], color="0.3", marker=marker, linestyle="none")
    _legend(fig, axes, ncols, extra)
    return fig


def plot_scores(board: Board, column: str) -> tuple[str, bytes] | None:
    """`scores_figure` as a PNG, with its file name."""
    fig = scores_figure(board, column)
    return None if fig is None else _png(fig, X_AXES[column][1])


def plot_differences(board: Board) -> tuple[str, bytes] | None:
    """Per panel, every method row's difference to the reference with its 95% CI, grouped by budget."""
    rows = [r for b in table_budgets(board) for r in board.rows() if r.role == ROLE_METHOD and r.budget == b]
    rows = [r for r in rows if not r.is_reference]
    shown = [task for task in panels(board) if board.estimate(REFERENCE, task) is not None]
    if not rows or not shown:
        return None
    colors = _colors(board)
    fig, axes, [block], ncols = _grid([len(shown)])
    for task, ax in zip(shown, block, strict=True):
        reference = board.estimate(REFERENCE, task)
        ax.axvline(0.0, color="0.25", linewidth=1, label="reference (dense, budget 1)")
        trivial_rows = [r for r in board.rows() if r.role == ROLE_TRIVIAL]
        trivial = board.estimate(trivial_rows[0], task) if trivial_rows else None
        if trivial is not None and reference is not None:
            shift = trivial.value - reference.value
            ax.axvline(shift, color="0.5", linestyle="--", linewidth=1, label="trivial baseline")
        labels = []
        for y, row in enumerate(rows):
            estimate = board.estimate(row, task)
            labels.append(f"{row.method} @ {row.budget:g}")
            if estimate is None or reference is None:
                continue
            difference = estimate.minus(reference)
            ci = difference.ci
            xerr = None if ci is None else np.array([[difference.value - ci.low], [ci.high - difference.value]])
            ax.errorbar(
                [difference.value], [y], xerr=xerr, color=colors[row.method], marker="o", capsize=3, label=row.method
            )
        for y in range(1, len(rows)):  # a rule between budget groups
            if rows[y].budget != rows[y - 1].budget:
                ax.axhline(y - 0.5, color="0.8", linewidth=0.8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(_title(board, task))
        ax.set_xlabel("difference to the reference (points, 95% CI)", fontsize=8)
        ax.grid(True, axis="x", alpha=0.3)
    _legend(fig, axes, ncols)
    return _png(fig, DIFFERENCE_PLOT)


def render_plots(board: Board) -> dict[str, bytes]:
    """File name -> PNG bytes of every plot there is something to draw for (none are written)."""
    plots = [plot_scores(board, column) for column in X_AXES]
    plots.append(plot_differences(board))
    return dict(p for p in plots if p is not None)
