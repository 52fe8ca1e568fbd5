"""Loading the suite's own `evaluate` modules from a local folder, whatever the state of the cache.

evaluate is imported inside the functions: its `evaluator` subpackage imports transformers and
torch, seconds that `import suite.metrics.glue` must not cost.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evaluate import EvaluationModule

# Package name of the fallback copies. Not evaluate's `evaluate_modules`: a read-only cache may
# already hold that package, and Python would then look for our copy only inside it.
_FALLBACK_NAMESPACE = "prune_suite_evaluate_modules"


def load_local_module(folder: Path | str, config_name: str) -> EvaluationModule:
    """`evaluate.load` of the module script in `folder` (named like the folder), keeping its inputs
    in memory. A local path never reaches the hub, whatever HF_HUB_OFFLINE says."""
    import evaluate

    folder = Path(folder)
    if not (folder / f"{folder.name}.py").is_file():
        raise FileNotFoundError(f"no evaluate module script {folder / (folder.name + '.py')}")
    try:
        return evaluate.load(str(folder), config_name, keep_in_memory=True)
    except OSError as unwritable:
        # Shim: evaluate.load copies even a local script into HF_MODULES_CACHE (under a lock file
        # there), and every module instance creates a folder under HF_METRICS_CACHE, even with
        # keep_in_memory; on a read-only or otherwise unwritable cache both raise OSError. The
        # same load steps then run against a private temporary cache instead.
        try:
            return _load_in_private_cache(folder, config_name)
        except Exception as err:
            raise err from unwritable


def _load_in_private_cache(folder: Path, config_name: str) -> EvaluationModule:
    from evaluate.loading import evaluation_module_factory, import_main_class, init_dynamic_modules

    root = _private_cache()
    modules_path = init_dynamic_modules(_FALLBACK_NAMESPACE, hf_modules_cache=str(root / "modules"))
    found = evaluation_module_factory(str(folder), dynamic_modules_path=modules_path)
    module_class = import_main_class(found.module_path)
    module = module_class(
        config_name=config_name, keep_in_memory=True, cache_dir=str(root / "metrics"), hash=found.hash
    )
    module.download_and_prepare()
    return module


@functools.cache
def _private_cache() -> Path:
    # Once imported, the module no longer needs its copied file: remove the folder at exit.
    root = Path(tempfile.mkdtemp(prefix="prune-suite-evaluate-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root
