"""The on-disk teacher cache: one dense fine-tuned model per (model, task, seed, training config).

Every method that distils uses the same cached teacher, and the `dense` method's cells reuse it,
so the dense row of the leaderboard is exactly the model that teaches the others.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import AutoModelForSequenceClassification, PreTrainedModel

from suite.results import config_hash


def default_cache_dir() -> Path:
    return Path(os.environ.get("PRUNE_SUITE_CACHE", Path.home() / ".cache" / "prune_suite"))


@dataclass
class Teacher:
    model: PreTrainedModel
    meta: dict[str, Any]  # id, score, metrics, train_steps, train_examples, wall_s

    @property
    def summary(self) -> dict[str, Any]:
        return {"id": self.meta["id"], "score": self.meta["score"]}


class TeacherStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "teachers"
        self._memory: dict[str, Teacher] = {}

    @staticmethod
    def key(config: dict[str, Any]) -> str:
        return config_hash(config)

    def path(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str) -> Teacher | None:
        if key in self._memory:
            return self._memory[key]
        folder = self.path(key)
        meta_file = folder / "teacher.json"
        if not meta_file.is_file():
            return None
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        model.eval()
        teacher = Teacher(model, json.loads(meta_file.read_text()))
        self._memory[key] = teacher
        return teacher

    def save(self, key: str, teacher: Teacher) -> None:
        """Save into a temporary folder, then rename it into place: a crash leaves no half teacher."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{key}."))
        try:
            teacher.model.save_pretrained(tmp)
            (tmp / "teacher.json").write_text(json.dumps(teacher.meta, indent=2, sort_keys=True))
            target = self.path(key)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._memory[key] = teacher

    def get_or_train(self, config: dict[str, Any], train_fn: Callable[[str], Teacher]) -> Teacher:
        key = self.key(config)
        teacher = self.load(key)
        if teacher is None:
            teacher = train_fn(key)
            self.save(key, teacher)
        return teacher
