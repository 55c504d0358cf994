"""The one stage convention: a shared argument parser, params sections read into typed configs, one-line errors.

A stage script is::

    def main() -> None:
        parser = stage.parser(__doc__)
        parser.add_argument("--prepared", type=Path, required=True)
        args = parser.parse_args()
        cfg = stage.config(args, "head", HeadConfig)     # params section -> dataclass (nested dataclasses too)
        library_function(cfg, args.prepared, ...)

    if __name__ == "__main__":
        stage.run(main)

Every path a stage reads or writes is a command-line argument spelled out in dvc.yaml; the params it reads are
named by string literals in `stage.config` / `stage.value` calls, which `tests/test_dvc_deps.py` checks against
the stage's `params:` in dvc.yaml. Library functions receive configs and paths, never the params dict.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import types
import typing
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import yaml

from thermbench.core.io import InputError

T = TypeVar("T")


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The parent parser of every stage: its docstring's first line as description, and `--params`."""
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    return p


def load_params(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: params file not found")
    with open(path) as f:
        return yaml.safe_load(f) or {}


def section(params: dict, dotted: str) -> Any:
    """`section(p, "train.ktl")` -> p["train"]["ktl"], with a clear error for a missing key."""
    node = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise InputError(f"params.yaml: missing key '{dotted}'")
        node = node[key]
    return node


def value(args: argparse.Namespace, dotted: str, keys: tuple[str, ...] | None = None) -> Any:
    """One params value (for example the top-level `seed`); with `keys`, a section holding only those of its keys
    (those the stage reads, and all its DVC params declare: a change elsewhere in the section re-runs nothing)."""
    found = section(load_params(args.params), dotted)
    if keys is None:
        return found
    if not isinstance(found, dict):
        raise InputError(f"params.yaml: '{dotted}' must be a mapping")
    return {k: v for k, v in found.items() if k in keys}


def sources(args: argparse.Namespace, datasets: tuple[str, ...]) -> dict[str, str]:
    """`data.source.<dataset>` ("synthetic" or "real") of each dataset a stage's metrics rest on: their `data` label."""
    params = load_params(args.params)
    return {d: section(params, f"data.source.{d}") for d in datasets}


def config(args: argparse.Namespace, dotted: str, cls: type[T]) -> T:
    """The params section `dotted` as the dataclass `cls` (unknown or missing keys: one clear error)."""
    return build(cls, section(load_params(args.params), dotted), dotted)


def build(cls: type[T], mapping: Any, where: str) -> T:
    """Dataclass `cls` from a mapping, recursing into fields typed as dataclasses; tuples from YAML lists.

    Written here rather than taken from dacite: its errors name Python types where these name the params key, and
    it would turn an int given for a float field into an error or a float, where the metrics echo it as written."""
    if not isinstance(mapping, dict):
        raise InputError(f"params.yaml: '{where}' must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise InputError(f"params.yaml: unknown key(s) {', '.join(unknown)} in '{where}'")
    kwargs = {}
    for name, f in fields.items():
        if name not in mapping:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InputError(f"params.yaml: missing key '{where}.{name}'")
            continue
        kwargs[name] = _coerce(hints[name], mapping[name], f"{where}.{name}")
    return cls(**kwargs)


def _coerce(hint: Any, raw: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, raw, where)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if raw is None else _coerce(options[0], raw, where) if len(options) == 1 else raw
    if (hint is tuple or origin is tuple) and not isinstance(raw, (list, tuple)):  # a tuple: a dataclass default
        raise InputError(f"params.yaml: '{where}' must be a list, not {raw!r}")
    if hint is tuple:
        return tuple(raw)
    if origin is tuple:
        args = typing.get_args(hint)
        inner = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        return tuple(_coerce(inner, v, where) if inner else v for v in raw)
    if origin is dict and isinstance(raw, dict):
        _, inner = typing.get_args(hint)
        return {k: _coerce(inner, v, f"{where}.{k}") for k, v in raw.items()}
    if hint is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise InputError(f"params.yaml: '{where}' must be a number, not {raw!r}")
        return raw  # an int stays an int (PEP 484's numeric tower), so metrics that echo a param keep its spelling
    if hint is bool and not isinstance(raw, bool):
        raise InputError(f"params.yaml: '{where}' must be true or false, not {raw!r}")
    if hint in (int, str) and (not isinstance(raw, hint) or isinstance(raw, bool)):
        raise InputError(f"params.yaml: '{where}' must be {hint.__name__}, not {raw!r}")
    return raw


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def run(main: Callable[[], Any]) -> None:
    """Run a stage's main(); turn InputError, and a file-system error (an unwritable output folder, a full disk, a
    file removed under the stage), into one line on stderr and exit code 2."""
    try:
        main()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # its message names the path; where the code failed is no help to the user
        where = f": {err.filename}" if err.filename else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        sys.exit(2)
