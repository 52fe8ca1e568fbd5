"""Score-vs-cost plots (PNG): one panel per task and one for the average, one line per method."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a display

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import NullFormatter, ScalarFormatter

from suite.leaderboard.frame import REFERENCE_BUDGET, task_order

AXES = {
    "fraction": ("effective FLOP fraction (of the unpruned model)", "score_vs_flops.png"),
    "speedup": ("measured batch-32 CPU speedup over the unpruned model", "score_vs_speedup.png"),
}
AVERAGE = "average"


def points(frame: pd.DataFrame, x: str) -> pd.DataFrame:
    """Per (panel, method, budget): mean and std over seeds of the score, mean of `x`.

    Panel `average` is, per seed, the mean over all tasks (only seeds with every task `ok`)."""
    ok = frame[(frame.status == "ok") & frame.score.notna() & frame[x].notna()]
    tasks = task_order(frame.task)
    per_task = ok[["task", "method", "budget", "seed", "score", x]]
    wide = per_task.pivot_table(index=["method", "budget", "seed"], columns="task", values=["score", x])
    complete = wide.dropna()
    if len(complete) and len(tasks) > 1 and set(complete["score"].columns) == set(tasks):
        average = pd.DataFrame(
            {"score": complete["score"].mean(axis=1), x: complete[x].mean(axis=1)}, index=complete.index
        ).reset_index()
        average["task"] = AVERAGE
        per_task = pd.concat([per_task, average], ignore_index=True)
    grouped = per_task.groupby(["task", "method", "budget"], sort=True)
    out = grouped.agg(score=("score", "mean"), std=("score", "std"), n=("score", "size"), x=(x, "mean"))
    return out.fillna({"std": 0.0}).reset_index()


def plot_scores(frame: pd.DataFrame, x: str, out_dir: Path) -> Path | None:
    """One figure, score against `x` ("fraction" or "speedup"); None when nothing can be plotted."""
    label, filename = AXES[x]
    data = points(frame, x)
    if data.empty:
        return None
    panels = task_order(t for t in data.task.unique() if t != AVERAGE)
    panels += [AVERAGE] if AVERAGE in set(data.task) else []
    methods = sorted(data.method.unique())
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.8 * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for method in methods:
            # Join points in budget order: on the speedup axis x order zigzags where speedups are ~1.
            rows = data[(data.task == panel) & (data.method == method)].sort_values("budget")
            if rows.empty:
                continue
            reference = (rows.budget == REFERENCE_BUDGET).all()
            ax.errorbar(
                rows.x,
                rows.score,
                yerr=rows["std"],
                label=method,
                color=colors[method],
                marker="*" if reference else "o",
                markersize=10 if reference else 5,
                linestyle="none" if reference else "-",
                capsize=3,
            )
        ax.set_xscale("log")
        if x == "fraction":  # ticks at the budgets: the grid the methods were asked to meet
            ax.set_xticks(sorted(set(data.budget)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(panel)
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("score (mean ± std over seeds)", fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    legend = {}  # one entry per method, whichever panel drew it
    for ax in axes.flat:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(name, handle)
    fig.tight_layout()
    # Below the panels, at most three entries per panel width per row; bbox_inches="tight" grows the
    # image to hold it, so no entry is clipped however many methods ran.
    fig.legend(
        list(legend.values()),
        list(legend),
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=min(len(legend), 3 * ncols),
        frameon=False,
    )
    path = out_dir / filename
    # No "Software" text chunk (it names the matplotlib version): same records, same bytes where possible.
    fig.savefig(path, dpi=110, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return path


def write_plots(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    return [p for x in AXES if (p := plot_scores(frame, x, out_dir)) is not None]
