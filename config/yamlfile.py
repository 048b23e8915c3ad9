"""Load a YAML data file into a pydantic model, naming the file and line of any error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class DataFileError(ValueError):
    """A data file is unreadable or invalid; the message names the file and line."""


def load_model(model: type[M], path: Path | str, text: str | None = None) -> M:
    path = Path(path)
    try:
        raw = text if text is not None else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: can't read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(raw)
        root = yaml.compose(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise DataFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise DataFileError(describe(path, root, exc)) from exc


def at(*loc: str | int) -> str:
    """Prefix for a validator's message naming the field it is about: ValueError(at("steps", 2, "as") + "...")."""
    return "@" + ".".join(str(p) for p in loc) + ": "


_AT = re.compile(r"^Value error, @([^:]+): (.*)$", re.S)


def describe(path: Path, root: yaml.Node | None, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc: tuple[Any, ...] = tuple(error["loc"])
        message = error["msg"]
        pinned = _AT.match(message)
        if pinned:  # a cross-field check that named the field it is about
            loc += tuple(int(p) if p.isdigit() else p for p in pinned.group(1).split("."))
            message = pinned.group(2)
        line = line_of(root, loc)
        where = f"{path}:{line}" if line else str(path)
        field = ".".join(str(p) for p in loc) or "file"
        lines.append(f"{where}: {field}: {message}")
    return "\n".join(lines)


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node on the error's path that the file has."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                # point at the key for a missing/invalid value: that is the line people read
                return value if isinstance(value, yaml.CollectionNode) else key
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item: yaml.Node = node.value[part]
        return item
    return None
