"""Configuration dataclasses as the single source of their command-line flags and config files.

A configuration is a dataclass whose fields are declared with :func:`option`: the default, a help
text, the flag group and, where the flag is not simply ``--field-name``, its spelling. From that one
list

* :func:`add_dataclass_arguments` generates the argparse flags (every flag defaults to "not given",
  so only what the user typed overrides),
* :func:`read_config_file` reads a YAML (or JSON) file of ``field: value`` pairs, refusing unknown
  keys and values of the wrong type with the file and key named,
* :func:`resolve_config` merges defaults < file < flags into an instance.

Nothing in a file or on the command line is executed: YAML is read with ``yaml.safe_load`` and
``KEY=VALUE`` values with ``ast.literal_eval``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

from .options import KeyValueArg, parse_key_values

FLAG_KEYS = ("help", "flag", "group", "choices", "metavar", "kind", "cli")


class ConfigError(ValueError):
    """A configuration file or value that cannot be used (the message names file and key)."""


def option(default: Any = dataclasses.MISSING, help: str = "", *,  # noqa: A002
           flag: str | None = None, group: str = "options", choices=None, metavar: str | None = None,
           kind: str | None = None, cli: bool = True, default_factory: Any = dataclasses.MISSING):
    """A dataclass field that also describes its command-line flag.

    Parameters
    ----------
    default, default_factory
        As for :func:`dataclasses.field` (mutable defaults: ``default_factory``).
    help : str
        Flag help (``%(default)s`` is filled with the field's default).
    flag : str, optional
        Flag spelling (default ``--`` + the field name with dashes). Boolean fields get
        ``--flag`` and ``--no-flag``.
    group : str
        Heading under which ``--help`` lists the flag.
    choices : sequence, optional
    metavar : str, optional
    kind : {"kv"}, optional
        ``kv``: a dict field given as ``KEY=VALUE ...`` on the command line.
    cli : bool
        False: only settable from Python or a config file.
    """
    meta = dict(help=help, flag=flag, group=group, choices=choices, metavar=metavar, kind=kind,
                cli=cli)
    return dataclasses.field(default=default, default_factory=default_factory, metadata=meta)


# -- field types ---------------------------------------------------------------------------------
def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); other types -> (tp, False)."""
    args = typing.get_args(tp)
    if (typing.get_origin(tp) in (typing.Union, types.UnionType)) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True  # noqa: UP007 (built at run time)
    return tp, False


def _base_kind(tp) -> str:
    tp, _ = _unwrap_optional(tp)
    origin = typing.get_origin(tp)
    if tp is bool:
        return "bool"
    if tp is int:
        return "int"
    if tp is float:
        return "float"
    if tp is str:
        return "str"
    if origin in (dict,) or tp is dict:
        return "dict"
    if origin in (list, tuple) or tp in (list, tuple):
        return "list"
    if origin in (typing.Union, types.UnionType):
        args = set(typing.get_args(tp))
        if args == {int, str}:
            return "int_or_str"
    return "any"


def _int_or_str(text: str):
    return int(text) if text.lstrip("-").isdigit() else text


def _flag_of(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


# -- argparse ------------------------------------------------------------------------------------
def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, exclude: tuple[str, ...] = (),
                            only: tuple[str, ...] | None = None) -> dict[str, str]:
    """Add one flag per :func:`option` field of ``cls`` to ``parser``, grouped by ``group``.

    Every flag's default is "not given" (``argparse.SUPPRESS``), so the parsed namespace holds
    only what the user typed; :func:`resolve_config` fills in file values and defaults.

    Returns
    -------
    dict mapping field name -> flag spelling (for error messages).
    """
    hints = _field_types(cls)
    groups: dict[str, argparse._ArgumentGroup] = {}
    flags = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", False) or f.name in exclude or (only is not None and f.name not in only):
            continue
        group = f.metadata.get("group") or "options"
        g = groups.get(group) or groups.setdefault(group, parser.add_argument_group(group))
        flag = _flag_of(f)
        flags[f.name] = flag
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        help_text = (f.metadata.get("help") or "").replace("%(default)s", str(default))
        if help_text and "default" not in help_text and not isinstance(default, dict):
            help_text += f" (default: {default})"
        kw: dict[str, Any] = dict(dest=f.name, default=argparse.SUPPRESS, help=help_text)
        kind = f.metadata.get("kind") or _base_kind(hints[f.name])
        if f.metadata.get("choices"):
            kw["choices"] = list(f.metadata["choices"])
        if f.metadata.get("metavar"):
            kw["metavar"] = f.metadata["metavar"]
        if kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif kind in ("kv", "dict"):
            kw.update(nargs="*", metavar=kw.get("metavar", "KEY=VALUE"),
                      type=KeyValueArg(flag))
        elif kind == "list":
            inner = typing.get_args(_unwrap_optional(hints[f.name])[0])
            kw.update(nargs="+", type=inner[0] if inner and inner[0] in (int, float, str) else str)
        elif kind == "int":
            kw["type"] = int
        elif kind == "float":
            kw["type"] = float
        elif kind == "int_or_str":
            kw["type"] = _int_or_str
        g.add_argument(flag, **kw)
    return flags


# -- files ---------------------------------------------------------------------------------------
def _check_value(cls, name: str, value: Any, where: str) -> Any:
    """Type-check (and coerce int -> float) one value of a file; ConfigError naming ``where``."""
    tp = _field_types(cls)[name]
    inner, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: {name} may not be empty (null)")
    kind = _base_kind(tp)
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "dict": isinstance(value, dict),
        "list": isinstance(value, (list, tuple)),
        "int_or_str": isinstance(value, (int, str)) and not isinstance(value, bool),
    }.get(kind, True)
    if not ok:
        raise ConfigError(f"{where}: {name} must be {kind.replace('_', ' ')}, got {value!r}")
    if kind == "float":
        return float(value)
    if kind == "list":
        return list(value)
    return value


def read_config_file(path: str | os.PathLike, cls) -> dict[str, Any]:
    """Read ``field: value`` pairs for ``cls`` from a YAML or JSON file.

    Raises
    ------
    FileNotFoundError
        No such file.
    ConfigError
        Not a mapping, not parseable, an unknown key, or a value of the wrong type (the message
        names the file and the key).
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"config file {path} cannot be parsed: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values, got "
                          f"{type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    out = {}
    for key, value in data.items():
        if key not in known:
            close = [k for k in sorted(known) if k.startswith(str(key)[:3])]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"config file {path}: unknown key {key!r}{hint}")
        out[key] = _check_value(cls, key, value, f"config file {path}")
    return out


def resolve_config(cls, args: argparse.Namespace | dict | None = None,
                   config_file: str | os.PathLike | None = None, **fixed):
    """``cls`` built from its defaults, overridden by ``config_file``, then by the given flags.

    Parameters
    ----------
    cls : dataclass type
    args : Namespace or dict, optional
        Parsed flags of :func:`add_dataclass_arguments` (only the flags the user gave).
    config_file : path, optional
    **fixed
        Values that win over everything (set by the calling code).
    """
    values = read_config_file(config_file, cls) if config_file else {}
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in given.items():
        if key not in names:
            continue
        f = names[key]
        if (f.metadata.get("kind") == "kv" or _base_kind(_field_types(cls)[key]) == "dict") \
                and isinstance(value, list):
            value = parse_key_values(value, _flag_of(f))
        values[key] = value
    values.update(fixed)
    return cls(**values)


def dataclass_flags(cls) -> dict[str, str]:
    """field name -> flag spelling for every CLI field of ``cls``."""
    return {f.name: _flag_of(f) for f in dataclasses.fields(cls) if f.metadata.get("cli", False)}


__all__ = ["ConfigError", "add_dataclass_arguments", "dataclass_flags", "option",
           "parse_key_values", "read_config_file", "resolve_config"]
