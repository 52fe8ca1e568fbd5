"""The runs writing one results folder, so that two runs of different configurations never share it.

A run registers as it starts, under `<results>/.locks/runs/`: a lock file it holds until it ends and,
beside it, `<run id>.run` with what the run writes: the settings that `validate` requires the records
of one folder to agree on (`checks.settings`), and the config hash of each cell it computes. A run
whose settings or cells differ from those of a live run is refused; runs that agree share the folder
(each cell is claimed on its own). A run that was killed holds no lock any more, so its files are
removed by the next run to register and never block it. Registering is serialized by one lock on the
folder, so two runs starting at once cannot both miss each other.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from suite.errors import SuiteError
from suite.records.atomic import write_text_atomic
from suite.records.checks import Scope, differing, settings, shown
from suite.records.layout import runs_dir, runs_lock_path

log = logging.getLogger("suite")

SHOWN_DIFFERENCES = 3  # differences named in the refusal; the rest are counted
REGISTER_TIMEOUT_S = 60.0  # registering takes milliseconds; longer means a stuck process holds the lock


@dataclass(frozen=True)
class RunConfiguration:
    """What a run writes into a results folder, as far as another run must agree with it."""

    settings: dict[Scope, Any]  # checks.settings of the records it writes
    cells: dict[str, str]  # the label of each cell it computes -> that cell's config hash

    @classmethod
    def of_records(cls, records: Iterable[Mapping[str, Any]], cells: Mapping[str, str]) -> RunConfiguration:
        """From the records the run will write (enough of each for `checks.settings`: task, model, run_config)."""
        found: dict[Scope, Any] = {}
        for record in records:
            found.update(settings(dict(record)))
        written = json.dumps(cls(found, dict(cells)).to_json(), default=str)
        return cls.from_json(json.loads(written))  # as another run reads it back

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": [[task, name, value] for (task, name), value in self.settings.items()],
            "cells": dict(sorted(self.cells.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunConfiguration:
        """Raises KeyError, TypeError or ValueError for data `to_json` did not make."""
        found = {(task, str(name)): value for task, name, value in data["settings"]}
        return cls(found, {str(label): str(value) for label, value in dict(data["cells"]).items()})

    def differences(self, theirs: RunConfiguration) -> list[str]:
        """How this configuration differs from `theirs`, one phrase per setting; where no setting differs,
        one per cell both compute under different config hashes (other method knobs)."""
        lines = [
            f"{name}{f' of {task}' if task else ''} is {shown(their_value, 40)} there, {shown(my_value, 40)} here"
            for (task, name), their_value, my_value in differing(self.settings, theirs.settings)
        ]
        if lines:  # the settings explain any cell's other hash
            return lines
        return [
            f"cell {label} has config hash {theirs.cells[label]} there, {config_hash} here (other method knobs)"
            for label, config_hash in self.cells.items()
            if theirs.cells.get(label, config_hash) != config_hash
        ]


class Registration:
    """This process's registration on a results folder, held until `release` (or the process's end)."""

    def __init__(self, root: Path, lock: FileLock, marker: Path) -> None:
        self.root, self._lock, self.marker = root, lock, marker

    def release(self) -> None:
        """Remove this run's files; under the folder's lock, so no run registering meanwhile reads half of them."""
        if self._lock is None:
            return
        lock, self._lock = self._lock, None
        try:
            with FileLock(runs_lock_path(self.root), timeout=REGISTER_TIMEOUT_S):
                self.marker.unlink(missing_ok=True)
                Path(lock.lock_file).unlink(missing_ok=True)
        except (OSError, Timeout) as exc:  # a folder that turned read-only: the process's end frees the lock
            log.debug("results folder %s: this run's registration stays (%s)", self.root, exc)
        finally:
            lock.release()


def _holder(marker: Path) -> str:
    """A registered run in words, from its file (its pid, host and start)."""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        return f"pid {data['pid']} on {data['host']}, started {data['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"registered in {marker}"


def _live_configuration(lock_file: Path) -> RunConfiguration | None:
    """The configuration of the live run holding `lock_file`, or None when that run has ended (then
    its files are removed here). Raises SuiteError for a live run whose file cannot be read."""
    marker = lock_file.with_suffix(".run")
    lock = FileLock(lock_file)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            return RunConfiguration.from_json(json.loads(marker.read_text(encoding="utf-8"))["configuration"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SuiteError(
                f"results folder {marker.parents[2]} is in use by another run whose configuration cannot be read"
                f" ({marker}: {exc}); wait for it to end or pass another --results-dir"
            ) from None
    try:  # its run ended without removing its files (killed): they go
        marker.unlink(missing_ok=True)
        lock_file.unlink(missing_ok=True)
    finally:
        lock.release()
    return None


def register(root: Path, configuration: RunConfiguration) -> Registration:
    """Register a run on the results folder `root`, or refuse it (SuiteError, one line) when a live run
    there has another configuration, naming that run and how the two differ."""
    root = Path(root)
    folder = runs_dir(root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(runs_lock_path(root), timeout=REGISTER_TIMEOUT_S):
            for lock_file in sorted(folder.glob("*.lock")):
                theirs = _live_configuration(lock_file)
                if theirs is None:
                    continue
                differences = configuration.differences(theirs)
                if differences:
                    more = len(differences) - SHOWN_DIFFERENCES
                    raise SuiteError(
                        f"results folder {root} is being written by another run with another configuration"
                        f" ({_holder(lock_file.with_suffix('.run'))}): "
                        + "; ".join(differences[:SHOWN_DIFFERENCES])
                        + (f"; and {more} more" if more > 0 else "")
                        + "; wait for it to end, run with its settings, or pass another --results-dir"
                    )
            run_id = f"{os.getpid()}-{secrets.token_hex(4)}"
            lock = FileLock(folder / f"{run_id}.lock")
            lock.acquire(timeout=0)
            marker = folder / f"{run_id}.run"
            try:
                about = {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "configuration": configuration.to_json(),
                }
                write_text_atomic(marker, json.dumps(about, indent=1, sort_keys=True, default=str) + "\n")
            except BaseException:
                lock.release()
                raise
    except Timeout:
        raise SuiteError(
            f"results folder {root}: {runs_lock_path(root)} has been held for {REGISTER_TIMEOUT_S:g}s by a run"
            " that is starting; retry, or remove that file if no run is starting"
        ) from None
    except OSError as exc:
        raise SuiteError(
            f"results folder {root}: this run cannot register under {folder} ({exc.strerror or exc});"
            " pass a writable --results-dir"
        ) from None
    return Registration(root, lock, marker)
