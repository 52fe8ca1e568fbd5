"""One registry for every pruning method.

Methods are found in three places: the built-in `methods/` package (one folder per method, no
other edit needed), the entry-point group `prune_suite.methods` (third-party packages), and
modules or files named with `--plugins`. Names and summaries are read from the plugins' source
(suite.discovery) so that listing and selecting methods imports nothing heavy; a method's module is
imported when the method is used.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from suite.discovery import Declaration, PluginSource, builtin_sources, declared_methods, entry_point_sources
from suite.errors import SuiteError, clipped
from suite.spec.knobs import FLAG, _items, _typed, _unknown_knob, format_value, knobs_of, with_knobs
from suite.spec.search import NO_KNOBS, SearchSpace

if TYPE_CHECKING:  # the interface imports torch: only a method's own module needs it
    from suite.api import MethodInfo, PruningMethod

# Rows the harness writes itself (a data baseline, not a method): no plugin may take the name.
RESERVED_NAMES = frozenset({"trivial"})
# A method's name is a folder name in every results directory: lower-case letters, digits and
# '.', '_', '-', starting with a letter or digit (so never '..', a path or a hidden file).
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

M = TypeVar("M", bound="type[PruningMethod]")


@dataclass(frozen=True)
class RegisteredMethod:
    cls: type[PruningMethod]
    info: MethodInfo
    config: Any | None
    search: SearchSpace = NO_KNOBS  # what `tune` varies besides the learning rate (suite.spec.search)

    def create(self, knobs: Mapping[str, Any] | None = None) -> PruningMethod:
        """An instance with the registered Config, or with some of its knobs set (suite.spec.knobs)."""
        if not knobs:
            return self.cls(self.info, self.config)
        return self.cls(self.info, with_knobs(self.info.name, self.default_config(), knobs))

    def default_config(self) -> Any:
        """The Config the method runs with unless knobs are set: the variant's, else the class's defaults."""
        return self.config if self.config is not None else self.cls.Config()


_REGISTRY: dict[str, RegisteredMethod] = {}
# What the plugins' source files declare (name -> declaration) and the sources that cannot be read
# so (imported to list their names); found once per process, on first use.
_declared: dict[str, Declaration] | None = None
_opaque: list[PluginSource] = []
_imported: set[str] = set()  # labels of the plugin sources imported so far


class UnknownMethodError(SuiteError):
    pass


def register_method(info: MethodInfo, config: Any | None = None, search: SearchSpace | None = None) -> Callable[[M], M]:
    """Class decorator. Stack it to register variants (same class, other Config) by name. `search`: the
    knobs `tune` varies for this method, beside the learning rate every method is tuned on (its card
    says why those)."""
    # The file that registers (not the class's module: `magnitude` registers a class of `ksp`'s).
    caller = sys._getframe(1).f_globals.get("__file__")

    def decorate(cls: M) -> M:
        if not NAME_PATTERN.fullmatch(info.name) or ".." in info.name:
            raise SuiteError(
                f"method name {info.name!r} is not allowed: use 1-64 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit (it becomes a folder name in the results directory)"
            )
        if info.name in RESERVED_NAMES:
            raise SuiteError(f"method name '{info.name}' is reserved for a row the harness writes; choose another")
        owner = _discover()[0].get(info.name)
        if owner is not None and not _registered_by(owner.source, caller):
            raise SuiteError(
                f"method name '{info.name}' belongs to {owner.source.label}; {caller or _qualname(cls)} cannot "
                "take it over: register the plugin under another name"
            )
        existing = _REGISTRY.get(info.name)
        if existing is not None and _qualname(existing.cls) != _qualname(cls):
            raise SuiteError(
                f"method name '{info.name}' is registered twice ({_qualname(existing.cls)} and "
                f"{_qualname(cls)}); rename one of them"
            )
        registered = RegisteredMethod(cls, info, config, search or NO_KNOBS)
        check_search_space(registered)
        _REGISTRY[info.name] = registered
        return cls

    return decorate


def check_search_space(registered: RegisteredMethod) -> None:
    """SuiteError (one line) unless every dimension of the method's search space is one of its knobs and
    every value the space can give is one the knob admits, so no trial is refused by the Config."""
    name = registered.info.name
    knobs = {k.path: k for k in knobs_of(registered.default_config())}
    for path, param in registered.search.params.items():
        knob = knobs.get(path)
        if knob is None:
            raise SuiteError(f"{name}'s search space names '{path}', which is not one of its knobs: {', '.join(knobs)}")
        outside = [value for value in param.bounds() if knob.allowed is not None and not knob.allowed.admits(value)]
        if outside:
            raise SuiteError(
                f"{name}'s search space for {path} ({param}) reaches {outside[0]!r}; {path} must be {knob.allowed}"
            )


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _registered_by(source: PluginSource, caller: str | None) -> bool:
    """Whether the registering file is the plugin whose source declares the name (its module file, or a
    file of its package), so a plugin loaded later cannot quietly replace a discovered method. A source
    without a file to compare with is trusted."""
    if source.path is None:
        return True
    if caller is None:
        return False
    declared = source.path.resolve()
    home = declared.parent if declared.name == "__init__.py" else declared
    found = Path(caller).resolve()
    return found == declared or home in found.parents


def load_plugins(extra: Iterable[str] = ()) -> None:
    """Import extra plugin modules or .py files (`--plugins`). Built-in and entry-point methods need no
    loading: they are found from their source and imported when used."""
    for spec in extra:
        _import_plugin(spec)


def load_all() -> None:
    """Import every discovered plugin: for code that needs every method's class (tests over all methods)."""
    declared, opaque = _discover()
    for source in [*{d.source.label: d.source for d in declared.values()}.values(), *opaque]:
        _import_source(source)


def _discover() -> tuple[dict[str, Declaration], list[PluginSource]]:
    global _declared, _opaque
    if _declared is None:
        declared: dict[str, Declaration] = {}
        opaque: list[PluginSource] = []
        for source in [*builtin_sources(), *entry_point_sources()]:
            found = declared_methods(source)
            if found is None:
                opaque.append(source)
                continue
            for declaration in found:
                other = declared.get(declaration.name)
                if other is not None and other.source.label != source.label:
                    raise SuiteError(
                        f"method name '{declaration.name}' is declared twice ({other.source.label} and "
                        f"{source.label}); rename one of them"
                    )
                declared[declaration.name] = declaration
        _declared, _opaque = declared, opaque
    return _declared, _opaque


def _import_source(source: PluginSource) -> None:
    if source.label in _imported:
        return
    try:
        source.load()
    except SuiteError:
        raise
    except (Exception, SystemExit) as exc:  # a broken plugin (or one calling sys.exit) is one line naming it
        raise SuiteError(f"could not load {source.label}: {type(exc).__name__}: {exc}") from exc
    _imported.add(source.label)


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
    except (Exception, SystemExit) as exc:  # sys.exit(0) at import must not end a run as if it succeeded
        raise SuiteError(f"could not load plugin '{spec}': {type(exc).__name__}: {exc}") from exc


def list_methods(pattern: str = "*") -> list[str]:
    """Known names matching a shell-style pattern, sorted (imports only plugins that cannot be read)."""
    return sorted(name for name in _known_names() if fnmatch.fnmatch(name, pattern))


def _known_names() -> set[str]:
    declared, opaque = _discover()
    for source in opaque:
        _import_source(source)
    return set(declared) | set(_REGISTRY)


def summary_of(name: str) -> str:
    """A method's one-line summary, read from its source where it is a literal (no import)."""
    declaration = _discover()[0].get(name)
    if name not in _REGISTRY and declaration is not None and declaration.summary is not None:
        return declaration.summary
    return get_registered(name).info.summary


def check_known(name: str) -> None:
    """Raise UnknownMethodError (with a "did you mean") unless `name` is a method; imports nothing it need not."""
    if name in _REGISTRY or name in _discover()[0]:
        return
    known = sorted(_known_names())
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UnknownMethodError(
            f"unknown method '{clipped(name)}'.{hint} Known methods: {', '.join(known)} "
            "(see `python -m suite ls methods`)"
        )


def get_registered(name: str) -> RegisteredMethod:
    """The method's class, info and Config; imports its module on first use."""
    if name not in _REGISTRY:
        check_known(name)
        declaration = _discover()[0].get(name)
        if declaration is not None:
            _import_source(declaration.source)
            if name not in _REGISTRY:
                raise SuiteError(
                    f"{declaration.source.label} declares method '{name}', but importing it did not register it"
                )
    return _REGISTRY[name]


def get_method(name: str, knobs: Mapping[str, Any] | None = None) -> PruningMethod:
    return get_registered(name).create(knobs)


def resolve_method_names(spec: str) -> list[str]:
    """'all', names, shell patterns ('*prune*') and exclusions ('-random', '-*prune*'), comma-separated
    -> names in the order given. An exclusion removes from the methods selected before it (from all
    methods when it comes first) and must remove at least one."""
    names: list[str] = []
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    for index, part in enumerate(parts):
        if not part.startswith("-"):
            names.extend(m for m in _matching(part) if m not in names)
            continue
        if index == 0:
            names = list_methods()
        excluded = set(_matching(part[1:]))
        kept = [name for name in names if name not in excluded]
        if len(kept) == len(names):
            raise UnknownMethodError(
                f"'{part}' excludes nothing: no method selected before it matches "
                f"(selected: {', '.join(names) or 'none'})"
            )
        names = kept
    if not names:
        raise UnknownMethodError(
            f"--methods '{spec}' leaves no method to run"
            if parts
            else "no methods given; pass --methods all or names such as dense"
        )
    return names


def _matching(part: str) -> list[str]:
    """The names one selection item stands for: 'all', a shell pattern, or a name."""
    if part == "all":
        return list_methods()
    if any(ch in part for ch in "*?["):
        matched = list_methods(part)
        if not matched:
            raise UnknownMethodError(f"no method matches '{part}'; known: {', '.join(list_methods())}")
        return matched
    check_known(part)
    return [part]


def parse_method_args(texts: Iterable[str], selected: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`--method-args` texts -> {method: {knob: typed value}}, checked now, before anything runs: each
    method known and selected, each knob a field of its Config, each value of the field's type, and the
    Config accepting the values together."""
    known = set(list_methods())
    chosen: dict[str, dict[str, Any]] = {}
    for key, text in _items(texts):
        method, path = _split_key(key, known)
        if method not in selected:
            raise SuiteError(
                f"{FLAG} sets {clipped(key)}, but '{method}' is not among the selected methods "
                f"({', '.join(selected)}); add it to --methods or drop its args"
            )
        table = {knob.path: knob for knob in knobs_of(get_registered(method).default_config())}
        if path not in table:
            raise SuiteError(f"{FLAG}: {_unknown_knob(method, path, list(table))}")
        if path in chosen.get(method, {}):
            raise SuiteError(f"{FLAG} sets {clipped(key)} twice; give it once")
        chosen.setdefault(method, {})[path] = _typed(method, table[path], text)
    for method, values in chosen.items():
        with_knobs(method, get_registered(method).default_config(), values)  # the Config's own checks
    return chosen


def _split_key(key: str, known: set[str]) -> tuple[str, str]:
    """'ksp.kd.attention' -> ('ksp', 'kd.attention'); method names may hold dots: the longest known wins."""
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        method = ".".join(parts[:cut])
        if method in known:
            return method, ".".join(parts[cut:])
    if len(parts) < 2:
        raise SuiteError(f"{FLAG}: '{clipped(key)}' names no knob: write METHOD.KNOB=VALUE, e.g. ksp.mask_updates=50")
    check_known(parts[0])  # raises the unknown-method error with its "did you mean"
    # A name that only a plugin import added.
    raise SuiteError(f"{FLAG}: '{clipped(key)}' names no knob of a known method")


def typed_knobs(method: str, values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Knob values stored as JSON (a tuned file: `source`) typed as the method's Config declares them (a
    float knob given 2 becomes 2.0, so the config hash is the one the same value from the command line
    gives), checked as `--method-args` values are."""
    table = {knob.path: knob for knob in knobs_of(get_registered(method).default_config())}
    typed = {}
    for path, value in values.items():
        if path not in table:
            raise SuiteError(f"{source}: {_unknown_knob(method, path, list(table))}")
        typed[path] = _typed(method, table[path], format_value(value))
    with_knobs(method, get_registered(method).default_config(), typed)
    return typed
