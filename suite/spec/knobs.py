"""A method's knobs: the fields of its frozen Config dataclass, set from the command line.

`--method-args 'ksp.mask_updates=50,ksp.kd.attention=0'` names a method, a field (a field of a
nested Config after a dot) and a value. Values are typed from the field's annotation, and the
Config is rebuilt with dataclasses.replace so that its own checks (__post_init__) run. The result
is the method's Config, so it is recorded with the cell and is part of its config hash: a knob set
to its default gives the same Config, and so the same cell, as no knob at all.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from suite.errors import SuiteError, clipped
from suite.spec.ranges import Allowed, allowed_of

FLAG = "--method-args"
TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")
NONE = ("none", "null")
# A comma ends an item only where the next item's `KEY=` follows, so tuple values keep their commas.
ITEM_BOUNDARY = re.compile(r",(?=[^,=]*=)")
# The longest KEY=VALUE item taken: far beyond any knob's value, short enough that nothing parses
# (or echoes) a value pasted by mistake.
MAX_ITEM_CHARS = 1000


@dataclass(frozen=True)
class Knob:
    path: str  # the field, nested fields joined with dots: "kd.attention"
    kind: Any  # its annotation, resolved (or the type of its default where it cannot be)
    value: Any  # its value in the method's default Config
    allowed: Allowed | None = None  # what the field admits, where its Config declares it (suite.spec.ranges)


def knobs_of(config: Any) -> list[Knob]:
    """Every settable field of a Config instance, nested dataclasses flattened, in field order."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return []
    hints = _type_hints(type(config))
    found = []
    for item in dataclasses.fields(config):
        if not item.init:
            continue
        value = getattr(config, item.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            found.extend(Knob(f"{item.name}.{k.path}", k.kind, k.value, k.allowed) for k in knobs_of(value))
        else:
            found.append(Knob(item.name, hints.get(item.name, type(value)), value, allowed_of(item)))
    return found


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an annotation that only resolves under TYPE_CHECKING: typed from the default
        return {}


def _items(texts: Iterable[str]) -> list[tuple[str, str]]:
    items = []
    for text in texts:
        for item in ITEM_BOUNDARY.split(text):
            if not item.strip():
                continue
            key, equals, value = item.partition("=")
            if len(item.strip()) > MAX_ITEM_CHARS:
                raise SuiteError(
                    f"{FLAG}: '{clipped(item.strip())}' is {len(item.strip())} characters long; "
                    f"a METHOD.KNOB=VALUE item is at most {MAX_ITEM_CHARS}"
                )
            if not equals or not key.strip():
                raise SuiteError(
                    f"{FLAG}: '{clipped(item.strip())}' is not METHOD.KNOB=VALUE, e.g. ksp.mask_updates=50"
                )
            items.append((key.strip(), value.strip()))
    return items


def _unknown_knob(method: str, path: str, known: list[str]) -> str:
    if not known:
        return f"{method} has no knobs (its Config has no fields), so '{clipped(path)}' cannot be set"
    group = [k for k in known if k.startswith(f"{path}.")]
    if group:
        return f"{method}.{path} is a group of knobs; set its fields: {', '.join(group)}"
    close = difflib.get_close_matches(path, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"{method} has no knob '{clipped(path)}'.{hint} Its knobs: {', '.join(known)}"


def _typed(method: str, knob: Knob, text: str) -> Any:
    try:
        return parse_value(text, knob.kind)
    except ValueError:
        raise SuiteError(f"{FLAG}: {method}.{knob.path} expects {describe(knob.kind)}, got '{clipped(text)}'") from None
    except TypeError:
        raise SuiteError(
            f"{FLAG}: {method}.{knob.path} is of type {type_name(knob.kind)}, which cannot be set from the command line"
        ) from None


def parse_value(text: str, kind: Any) -> Any:
    """`text` as a value of `kind`: ValueError where it is not one, TypeError where `kind` cannot be parsed."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if type(None) in args and text.lower() in NONE:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return parse_value(text, option)
            except ValueError:
                continue
        raise ValueError(text)
    if origin is Literal:
        for option in args:
            if str(option) == text:
                return option
        raise ValueError(text)
    if kind is tuple or origin is tuple:
        return _parse_tuple(text, args)
    if kind is type(None):
        if text.lower() in NONE:
            return None
        raise ValueError(text)
    if kind is bool:
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise ValueError(text)
    if kind in (int, float, str, Path):
        return kind(text)  # int('1.5') and float('x') raise ValueError
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        for member in kind:
            if text in (member.name, str(member.value)):
                return member
        raise ValueError(text)
    raise TypeError(kind)


def _parse_tuple(text: str, args: tuple) -> tuple:
    inner = text[1:-1] if text[:1] + text[-1:] in ("()", "[]") else text
    items = [item.strip() for item in inner.split(",")] if inner.strip() else []
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        kinds = [args[0] if args else str] * len(items)
    elif len(args) == len(items):
        kinds = list(args)
    else:
        raise ValueError(text)
    return tuple(parse_value(item, item_kind) for item, item_kind in zip(items, kinds, strict=True))


def describe(kind: Any) -> str:
    """What a value of `kind` looks like on the command line, for error messages."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        return " or ".join(("none" if a is type(None) else describe(a)) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if kind is tuple or origin is tuple:
        return f"comma-separated values ({type_name(kind)})"
    simple = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path"}
    if kind in simple:
        return simple[kind]
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(member.name for member in kind)
    return f"a {type_name(kind)}"


def type_name(kind: Any) -> str:
    return kind.__name__ if isinstance(kind, type) and not typing.get_args(kind) else str(kind).replace("typing.", "")


def format_value(value: Any) -> str:
    """A value as `--method-args` would take it."""
    if value is None:
        return "none"
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, tuple):
        return "(" + ",".join(format_value(item) for item in value) + ")"
    return str(value)


def with_knobs(method: str, config: Any, values: Mapping[str, Any]) -> Any:
    """`config` with typed knob values set (dotted paths into nested Configs), through
    dataclasses.replace so every Config's own checks run; a refusal is one line naming the knobs."""
    try:
        return _replace(config, values)
    except (ValueError, TypeError) as exc:
        given = ", ".join(f"{method}.{path}={clipped(format_value(value))}" for path, value in values.items())
        raise SuiteError(f"{FLAG}: {type(config).__name__} of {method} refuses {given}: {exc}") from None


def _replace(config: Any, values: Mapping[str, Any]) -> Any:
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, inner in nested.items():
        direct[head] = _replace(getattr(config, head), inner)
    return dataclasses.replace(config, **direct)
