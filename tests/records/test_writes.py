"""Result files: the modes they are created with, damaged files on read, leftovers of killed runs."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from suite.errors import SuiteError
from suite.records.atomic import copy_model_dir, write_json_atomic
from suite.records.formats import Predictions
from suite.records.layout import predictions_path
from suite.records.reader import read_record, read_records
from suite.records.schema import RECORD_FIELDS, RunResult
from suite.records.store import write_record

ROOT = Path(__file__).resolve().parents[2]


def _result() -> RunResult:
    return RunResult(method="dense", task="sst2", budget=1.0, seed=0, status="ok", config_hash="abc")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o027, 0o640)])
def test_record_and_sidecar_follow_the_umask(tmp_path, umask, expected):
    # A fresh interpreter: the umask is read once, when suite.records.atomic is imported.
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from suite.records.formats import Predictions
        from suite.records.schema import RECORD_FIELDS, RunResult
        from suite.records.store import write_record
        result = RunResult(method="dense", task="sst2", budget=1.0, seed=0, status="ok", config_hash="abc")
        write_record(Path({str(tmp_path / "r.json")!r}), result, Predictions("validation", [0, 1], [1, 1]))
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, preexec_fn=lambda: os.umask(umask))
    record = tmp_path / "r.json"
    assert _mode(record) == expected
    assert _mode(predictions_path(record)) == expected


def test_writes_in_process_use_the_imported_umask(tmp_path, monkeypatch):
    monkeypatch.setattr("suite.records.atomic._UMASK", 0o022, raising=False)
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert _mode(tmp_path / "a.json") == 0o644


def test_read_record_gives_none_for_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"method": "dense", "note": "\xff\xfe"}')
    assert read_record(path) is None


def test_read_records_skips_undecodable_files_and_names_them(tmp_path):
    write_record(tmp_path / "sst2" / "dense" / "good.json", _result(), Predictions("validation", [0], [0]))
    undecodable = tmp_path / "sst2" / "dense" / "bytes.json"
    undecodable.write_bytes(b"\xff\xfe\x00garbage")
    truncated = tmp_path / "sst2" / "dense" / "half.json"
    truncated.write_text('{"method": "de')
    (tmp_path / "other.json").write_text('{"not": "a record"}')
    assert [r["method"] for r in read_records(tmp_path)] == ["dense"]
    skipped: list[Path] = []
    assert len(read_records(tmp_path, skipped)) == 1
    assert skipped == sorted([undecodable, truncated])


def _age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_clean_stale_temp_files_removes_only_old_temporaries(tmp_path):
    from suite.records.atomic import clean_stale_temp_files

    folder = tmp_path / "sst2" / "dense"
    write_record(folder / "budget1_seed0.json", _result(), None)
    old = folder / ".budget1_seed0.json.k1ll3d.tmp"
    old.write_text("{")
    _age(old, 7200)
    fresh = folder / ".budget1_seed0.predictions.json.gz.wr1t1ng.tmp"
    fresh.write_bytes(b"")
    kept = _age(folder / "budget1_seed0.json", 7200)
    assert clean_stale_temp_files(tmp_path, older_than_s=3600) == [old]
    assert not old.exists() and fresh.exists() and kept.exists()
    assert clean_stale_temp_files(tmp_path / "missing") == []


def test_a_killed_writers_temporary_file_is_removed_at_the_next_start_however_fresh(tmp_path):
    from suite.records.atomic import clean_stale_temp_files

    # A writer killed between writing its temporary file and renaming it into place.
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from suite.records import atomic
        atomic.os.replace = lambda *args: os._exit(0)
        atomic.write_bytes_atomic(Path({str(tmp_path)!r}) / "budget1_seed0.json", b"{{")
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, env={"PYTHONPATH": str(ROOT)})
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and time.time() - left[0].stat().st_mtime < 600  # fresh
    assert clean_stale_temp_files(tmp_path) == left and not left[0].exists()


def test_a_live_writers_temporary_file_is_kept(tmp_path, monkeypatch):
    from suite.records import atomic

    seen = []

    def clean_then_rename(source, target):  # another run's cleaner comes by mid-write
        seen.extend(atomic.clean_stale_temp_files(tmp_path))
        os.rename(source, target)

    monkeypatch.setattr(atomic.os, "replace", clean_then_rename)
    atomic.write_bytes_atomic(tmp_path / "budget1_seed0.json", b"{}")
    assert seen == [] and (tmp_path / "budget1_seed0.json").read_bytes() == b"{}"


def test_the_readme_names_every_field_of_the_record():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Result record\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", section))
    assert [name for name in RECORD_FIELDS if name not in named] == []


def _saved_model(root: Path) -> Path:
    folder = root / "budget0.5_seed0.model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def test_a_model_copied_out_arrives_whole(tmp_path):
    source = _saved_model(tmp_path / "results")
    copy_model_dir(source, tmp_path / "out")
    assert (tmp_path / "out" / "config.json").read_text() == "{}"


@pytest.mark.parametrize("where", [".", "sub", "sub/deeper"])
def test_a_model_is_never_copied_into_itself(tmp_path, where):
    source = _saved_model(tmp_path / "results")
    target = source / where
    with pytest.raises(SuiteError, match=r"lies inside the saved model it copies|exists and is not empty"):
        copy_model_dir(source, target)
    assert sorted(p.name for p in source.iterdir()) == ["config.json"]  # nothing added to the cell's model


def test_a_target_that_cannot_be_written_is_one_line(tmp_path):
    source = _saved_model(tmp_path / "results")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SuiteError, match=r"--to .*a-file/out: cannot write there \(.+\); pass a writable folder"):
        copy_model_dir(source, blocker / "out")
