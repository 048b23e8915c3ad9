"""What particular rules make the code do, loaded from config/protocols/_rule_effects.yaml.

The code asks by meaning ("which duties does the interview close?", "which rule is a found
event recorded under?") and never names a rule id itself; the ids are all here, as data.
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, model_validator

from config.rules import catalogue
from config.vocabulary import Audience
from config.yamlfile import DataFileError, load_model

PATH = "config/protocols/_rule_effects.yaml"
ALERT_FIELDS = frozenset({"label", "rule", "action", "note"})  # a duty, in the AD's alert


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssistantDirectorAlerts(_Strict):
    """SUM-AD (NS §5.4): what the Assistant Director hears, by the rule of the duty."""

    made: dict[str, str] = {}
    done: dict[str, str] = {}
    persistently_missing: tuple[str, ...] = ()
    persistently_missing_text: str = ""

    @model_validator(mode="after")
    def _placeholders(self) -> AssistantDirectorAlerts:
        for text in (*self.made.values(), *self.done.values(), self.persistently_missing_text):
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            if names - ALERT_FIELDS:
                raise ValueError(
                    f"{text!r} uses unknown placeholders {sorted(names - ALERT_FIELDS)}; "
                    f"known: {', '.join(sorted(ALERT_FIELDS))}"
                )
        return self


class RuleEffects(_Strict):
    timeline: dict[str, str]
    closed_by_interview: tuple[str, ...] = ()
    also_on: dict[str, tuple[str, ...]] = {}
    weekly_patterns: tuple[str, ...] = ()
    return_alert: tuple[Audience, ...] = ()
    assistant_director: AssistantDirectorAlerts = AssistantDirectorAlerts()

    @property
    def rule_ids(self) -> set[str]:
        ad = self.assistant_director
        return {
            *self.timeline.values(),
            *self.closed_by_interview,
            *self.also_on,
            *self.weekly_patterns,
            *ad.made,
            *ad.done,
            *ad.persistently_missing,
        }

    @model_validator(mode="after")
    def _known(self) -> RuleEffects:
        unknown = sorted(self.rule_ids - set(catalogue()))
        if unknown:
            raise ValueError(f"unknown rule ids (not in RULES.md): {', '.join(unknown)}")
        return self

    def recorded_under(self, kind: str) -> str | None:
        """The rule a timeline event of this kind is recorded under, if any."""
        return self.timeline.get(kind)

    def also_triggered_by(self, rule_id: str) -> tuple[str, ...]:
        """Events besides its own trigger that make this duty."""
        return self.also_on.get(rule_id, ())


@cache
def rule_effects() -> RuleEffects:
    text = resources.files("config").joinpath("protocols", "_rule_effects.yaml").read_text("utf-8")
    try:
        return load_model(RuleEffects, PATH, text)
    except DataFileError as exc:
        raise ValueError(str(exc)) from exc


def recorded_under(kind: str) -> str:
    """The rule an event kind that always carries one is recorded under (KeyError if none)."""
    rule_id = rule_effects().recorded_under(kind)
    if rule_id is None:
        raise KeyError(f"{PATH}: no rule for timeline events of kind {kind!r}")
    return rule_id
