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


def read_text(path: Path) -> str:
    """A data file's text; one that is not UTF-8 is refused naming the line of the first
    byte that is not (a file saved as Windows-1252 from Excel, say)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"{path}: can't read: {exc.strerror}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFileError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None


def load_model(model: type[M], path: Path | str, text: str | None = None) -> M:
    path = Path(path)
    raw = text if text is not None else read_text(path)
    try:
        refuse_aliases(path, raw)  # before anything is built: an alias bomb never expands
        root = yaml.compose(raw)
        refuse_duplicate_keys(path, root)
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise DataFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise DataFileError(describe(path, root, exc)) from exc


def refuse_aliases(path: Path, raw: str) -> None:
    """Anchors and aliases (`&a`, `*a`, `<<: *a`) are refused: a few hundred bytes of them can
    stand for gigabytes, and a data file has no need of them."""
    for event in yaml.parse(raw, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise DataFileError(
                f"{where}: YAML anchors and aliases (& and *) are not accepted: write each"
                " value out"
            )


def refuse_duplicate_keys(path: Path, node: yaml.Node | None) -> None:
    """A key given twice in one mapping is refused at its second line (YAML keeps the last,
    so a child would silently move home)."""
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise DataFileError(
                            f"{path}:{key.start_mark.line + 1}: {key.value!r} is given twice"
                            " here; keep one"
                        )
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


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
