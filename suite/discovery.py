"""Which methods exist, read from source without importing it.

Listing methods, `--help` and planning must not pay for torch and every method's dependencies.
Each plugin module declares its methods with `register_method(MethodInfo(name=..., summary=...))`
calls; where those arguments are literals they are read here with `ast`, and the module is imported
only when one of its methods is used. A module whose registrations cannot be read this way (a name
computed at import time, or registration through a helper) is *opaque*: it is imported whenever the
full list of names is needed, so it is never missed, only slower to list.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

ENTRY_POINT_GROUP = "prune_suite.methods"
BUILTIN_PACKAGE = "methods"


@dataclass(frozen=True)
class Declaration:
    """A method known from its source: its name, its one-line summary (None when not a literal), the
    plugin module whose import registers it, and whether it compresses (`MethodInfo.budgeted`: the
    default True when not given, None when not a literal)."""

    name: str
    summary: str | None
    source: PluginSource
    budgeted: bool | None = True


@dataclass(frozen=True)
class PluginSource:
    """A module that registers methods when imported: a folder of `methods/`, or an entry point."""

    label: str  # for messages: a file path or "entry point NAME (VALUE)"
    load: Callable[[], object]
    path: Path | None  # its source file, when there is one to read


def builtin_sources() -> list[PluginSource]:
    """One source per sub-package or module of the built-in `methods` package, found on disk (the
    package itself is only a docstring: importing it imports no method)."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    sources = []
    for folder in package.__path__:
        for entry in sorted(Path(folder).iterdir()):
            if entry.is_dir() and (entry / "__init__.py").is_file() and entry.name.isidentifier():
                path, module = entry / "__init__.py", entry.name
            elif entry.suffix == ".py" and entry.stem.isidentifier() and entry.name != "__init__.py":
                path, module = entry, entry.stem
            else:
                continue
            sources.append(PluginSource(str(path), _importer(f"{BUILTIN_PACKAGE}.{module}"), path))
    return sources


def entry_point_sources() -> list[PluginSource]:
    """One source per installed entry point of the group; their modules are located, not imported
    (locating `a.b` imports the package `a`, never `a.b` itself)."""
    return [
        PluginSource(f"entry point '{ep.name}' ({ep.value})", ep.load, _module_file(ep))
        for ep in entry_points(group=ENTRY_POINT_GROUP)
    ]


def _importer(module: str) -> Callable[[], object]:
    return lambda: importlib.import_module(module)


def _module_file(ep: EntryPoint) -> Path | None:
    try:
        spec = importlib.util.find_spec(ep.module)
    except (ImportError, ValueError):
        return None  # reported when the plugin is loaded, with the import's own error
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def declared_methods(source: PluginSource) -> list[Declaration] | None:
    """The methods `source` registers, read from its file; None when it is opaque (no file to read,
    or a registration whose name is not a literal)."""
    if source.path is None:
        return None
    try:
        tree = ast.parse(source.path.read_text(encoding="utf-8"), filename=str(source.path))
    except (OSError, SyntaxError, ValueError):
        return None  # importing it reports the problem properly
    declarations = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called_name(node.func) == "register_method":
            literal = _literal_info(node)
            if literal is None:
                return None
            name, summary, budgeted = literal
            declarations.append(Declaration(name, summary, source, budgeted))
    return declarations or None


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


# MethodInfo's leading fields, in order: read positionally as well as by keyword.
_INFO_FIELDS = ("name", "summary", "paper", "needs_teacher", "budgeted")


def _literal_info(call: ast.Call) -> tuple[str, str | None, bool | None] | None:
    """(name, summary, budgeted) of `register_method(MethodInfo(name=..., summary=...), ...)` where the
    name is a literal; the summary is None where it is not one, budgeted True where it is not given
    (MethodInfo's default) and None where it is not a literal."""
    info = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "info"), None)
    if not isinstance(info, ast.Call) or _called_name(info.func) != "MethodInfo":
        return None
    fields = dict(zip(_INFO_FIELDS, info.args, strict=False))
    fields.update({k.arg: k.value for k in info.keywords if k.arg in _INFO_FIELDS})
    name, summary = _literal(fields.get("name")), _literal(fields.get("summary"))
    if not isinstance(name, str):
        return None
    budgeted = _literal(fields["budgeted"]) if "budgeted" in fields else True
    return name, summary if isinstance(summary, str) else None, budgeted if isinstance(budgeted, bool) else None


def _literal(node: ast.expr | None) -> object:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
