"""One registry for every pruning method.

Methods are found in three places: the built-in `methods/` package (one folder per method, no
other edit needed), the entry-point group `prune_suite.methods` (third-party packages), and
modules or files named with `--plugins`.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.util
import pkgutil
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

from suite.api import MethodInfo, PruningMethod
from suite.errors import SuiteError

ENTRY_POINT_GROUP = "prune_suite.methods"
# Rows the harness writes itself (a data baseline, not a method): no plugin may take the name.
RESERVED_NAMES = frozenset({"trivial"})
# A method's name is a folder name in every results directory: lower-case letters, digits and
# '.', '_', '-', starting with a letter or digit (so never '..', a path or a hidden file).
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

M = TypeVar("M", bound=type[PruningMethod])


@dataclass(frozen=True)
class RegisteredMethod:
    cls: type[PruningMethod]
    info: MethodInfo
    config: Any | None

    def create(self) -> PruningMethod:
        return self.cls(self.info, self.config)


_REGISTRY: dict[str, RegisteredMethod] = {}
_loaded_builtin = False


class UnknownMethodError(SuiteError):
    pass


def register_method(info: MethodInfo, config: Any | None = None) -> Callable[[M], M]:
    """Class decorator. Stack it to register variants (same class, other Config) by name."""

    def decorate(cls: M) -> M:
        if not NAME_PATTERN.fullmatch(info.name) or ".." in info.name:
            raise SuiteError(
                f"method name {info.name!r} is not allowed: use 1-64 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit (it becomes a folder name in the results directory)"
            )
        if info.name in RESERVED_NAMES:
            raise SuiteError(f"method name '{info.name}' is reserved for a row the harness writes; choose another")
        existing = _REGISTRY.get(info.name)
        if existing is not None and _qualname(existing.cls) != _qualname(cls):
            raise SuiteError(
                f"method name '{info.name}' is registered twice ({_qualname(existing.cls)} and "
                f"{_qualname(cls)}); rename one of them"
            )
        _REGISTRY[info.name] = RegisteredMethod(cls, info, config)
        return cls

    return decorate


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def load_plugins(extra: Iterable[str] = ()) -> None:
    """Import built-in methods, entry-point plugins and any extra modules or .py files."""
    global _loaded_builtin
    if not _loaded_builtin:
        import methods

        for module in pkgutil.iter_modules(methods.__path__, prefix="methods."):
            importlib.import_module(module.name)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                ep.load()
            except Exception as exc:  # a broken third-party plugin must not hide the others
                raise SuiteError(f"plugin entry point '{ep.name}' ({ep.value}) failed: {exc}") from exc
        _loaded_builtin = True
    for spec in extra:
        _import_plugin(spec)


def _import_plugin(spec: str) -> None:
    path = Path(spec)
    try:
        if spec.endswith(".py") or path.is_file():
            if not path.is_file():
                raise SuiteError(f"plugin file {spec} does not exist")
            name = f"prune_suite_plugin_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except SuiteError:
        raise
    except Exception as exc:
        raise SuiteError(f"could not load plugin '{spec}': {type(exc).__name__}: {exc}") from exc


def list_methods(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style pattern, sorted."""
    load_plugins()
    return sorted(name for name in _REGISTRY if fnmatch.fnmatch(name, pattern))


def get_registered(name: str) -> RegisteredMethod:
    load_plugins()
    if name not in _REGISTRY:
        known = sorted(_REGISTRY)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UnknownMethodError(
            f"unknown method '{name}'.{hint} Known methods: {', '.join(known)} (see `python -m suite ls methods`)"
        )
    return _REGISTRY[name]


def get_method(name: str) -> PruningMethod:
    return get_registered(name).create()


def resolve_method_names(spec: str) -> list[str]:
    """'all', a comma list, or shell patterns ('*prune*') -> registered names, in given order."""
    load_plugins()
    names: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part == "all":
            matched = list_methods()
        elif any(ch in part for ch in "*?["):
            matched = list_methods(part)
            if not matched:
                raise UnknownMethodError(f"no method matches '{part}'; known: {', '.join(list_methods())}")
        else:
            get_registered(part)
            matched = [part]
        names.extend(m for m in matched if m not in names)
    if not names:
        raise UnknownMethodError("no methods given; pass --methods all or names such as dense")
    return names
