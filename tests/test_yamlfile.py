"""A data file's errors name the file and line (config/yamlfile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, model_validator

from config.yamlfile import DataFileError, at, load_model


class Step(BaseModel):
    wait: int
    to: str = "nobody"


class Ladder(BaseModel):
    name: str
    steps: list[Step]

    @model_validator(mode="after")
    def _second_step_waits(self) -> Ladder:
        if len(self.steps) > 1 and self.steps[1].wait == 0:
            raise ValueError(at("steps", 1, "wait") + "a later step must wait")
        return self


PATH = Path("ladder.yaml")


def error(text: str) -> str:
    with pytest.raises(DataFileError) as caught:
        load_model(Ladder, PATH, text)
    return str(caught.value)


def test_a_valid_file_loads() -> None:
    ladder = load_model(Ladder, PATH, "name: x\nsteps:\n  - {wait: 5, to: sw}\n")
    assert ladder == Ladder(name="x", steps=[Step(wait=5, to="sw")])


def test_a_wrong_value_names_its_line_and_field() -> None:
    text = "name: x\nsteps:\n  - wait: 5\n  - wait: soon\n"
    assert error(text) == (
        "ladder.yaml:4: steps.1.wait: Input should be a valid integer, unable to parse string "
        "as an integer"
    )


def test_a_missing_field_names_the_line_of_its_parent() -> None:
    assert error("name: x\nsteps:\n  - to: sw\n") == "ladder.yaml:3: steps.0.wait: Field required"


def test_a_cross_field_check_points_at_the_field_it_names() -> None:
    text = "name: x\nsteps:\n  - wait: 5\n  - wait: 0\n"
    assert error(text) == "ladder.yaml:4: steps.1.wait: a later step must wait"


def test_broken_yaml_and_an_unreadable_file_say_so(tmp_path: Path) -> None:
    assert error("name: [x\n").startswith("ladder.yaml:2: not valid YAML:")
    with pytest.raises(DataFileError, match=r"missing\.yaml: can't read"):
        load_model(Ladder, tmp_path / "missing.yaml")
    assert error("").startswith("ladder.yaml")  # an empty file is an empty mapping
