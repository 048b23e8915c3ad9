"""The command line as a newcomer uses it: demo, simulate, import, list."""

from __future__ import annotations

import json

from bot.cli import main


def test_demo_prints_the_whole_episode(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for expected in ("/absent Jay 21:05", "reported missing to the police", "found", "finalised"):
        assert expected in out


def test_demo_json_is_one_object_a_line(capsys):
    assert main(["demo", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(r["type"] in ("message", "duty") for r in records)
    messages = [r for r in records if r["type"] == "message"]
    assert {"at", "type", "to", "rule", "child", "text"} <= set(messages[0])
    assert messages[0]["at"] == "2026-10-23T20:05"  # a manager subscribes to the summary
    assert any(m["rule"] == "SUM-DAILY-HOS" and m["at"] == "2026-10-24T08:30" for m in messages)


def test_bad_scenario_names_the_line_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "area: west-yorkshire\nstart: 2026-10-23T20:00\nuntil: 2026-10-24T00:00\n"
        "staff: [{id: sam, role: carer}]\n"
        "steps:\n  - {at: 2026-10-23T21:00, as: sam, say: hi, colour: red}\n"
    )
    assert main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6" in err and "colour" in err


def test_step_before_start_is_refused(tmp_path, capsys):
    bad = tmp_path / "early.yaml"
    bad.write_text(
        "area: west-yorkshire\nstart: 2026-10-23T20:00\nuntil: 2026-10-24T00:00\n"
        "staff: [{id: sam, role: carer}]\n"
        "steps:\n  - {at: 2026-10-23T19:00, as: sam, say: hi}\n"
    )
    assert main(["simulate", str(bad)]) == 2
    assert "before start" in capsys.readouterr().err


def test_import_and_list(tmp_path, capsys):
    from bot.cli import demo_team_path

    db = tmp_path / "w.db"
    assert main(["import", str(demo_team_path()), "--db", str(db)]) == 0
    assert main(["list", "children", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "C-0042" in out and "west-yorkshire" in out


def test_import_refuses_unknown_manager(tmp_path, capsys):
    team = tmp_path / "team.yaml"
    team.write_text("staff:\n  - {id: sam, role: carer, manager: nobody}\n")
    assert main(["import", str(team), "--db", str(tmp_path / "w.db")]) == 2
    assert "nobody" in capsys.readouterr().err


def test_unknown_staff_in_a_step_names_its_line(tmp_path, capsys):
    bad = tmp_path / "who.yaml"
    bad.write_text(
        "area: west-yorkshire\nstart: 2026-10-23T20:00\nuntil: 2026-10-24T00:00\n"
        "staff: [{id: sam, role: carer}]\n"
        "steps:\n"
        "  - {at: 2026-10-23T21:00, as: sam, say: /help}\n"
        "  - {at: 2026-10-23T21:05, as: nobody, say: /help}\n"
    )
    assert main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:7" in err and "unknown staff 'nobody'" in err


def test_bad_time_names_its_line(tmp_path, capsys):
    bad = tmp_path / "time.yaml"
    bad.write_text(
        "area: west-yorkshire\nstart: 2026-10-23T20:00\nuntil: 2026-10-24T00:00\n"
        "staff: [{id: sam, role: carer}]\n"
        "steps:\n"
        "  - {at: 2026-10-23T25:00, as: sam, say: /help}\n"
    )
    assert main(["simulate", str(bad)]) == 2
    assert f"{bad}:6" in capsys.readouterr().err


def test_log_level_setting_sets_the_level_and_keeps_quiet_loggers_quiet(tmp_path, monkeypatch):
    """WHEREABOUTS_LOG_LEVEL sets `whereabouts run`'s level; the loggers that would print what
    people typed (aiosqlite, python-telegram-bot) or the bot token (httpx) stay quiet."""
    import logging

    for name in ("TELEGRAM_BOT_TOKEN", "WHEREABOUTS_TELEGRAM_TOKEN", "SLACK_BOT_TOKEN",
                 "WHEREABOUTS_SLACK_BOT_TOKEN", "WHEREABOUTS_CONFIG"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WHEREABOUTS_LOG_LEVEL", "debug")
    root = logging.getLogger()
    quiet = {name: logging.getLogger(name) for name in ("aiosqlite", "telegram", "httpx")}
    before = root.level, {name: logger.level for name, logger in quiet.items()}
    try:
        assert main(["run", "--db", str(tmp_path / "w.db")]) == 2  # no platform configured
        assert root.level == logging.DEBUG
        assert quiet["aiosqlite"].getEffectiveLevel() >= logging.INFO
        assert quiet["telegram"].getEffectiveLevel() >= logging.INFO
        assert quiet["httpx"].getEffectiveLevel() >= logging.WARNING
    finally:
        root.setLevel(before[0])
        for name, level in before[1].items():
            quiet[name].setLevel(level)


def test_log_level_defaults_to_warnings_only(monkeypatch):
    from config.settings import Settings

    monkeypatch.delenv("WHEREABOUTS_LOG_LEVEL", raising=False)
    monkeypatch.delenv("WHEREABOUTS_CONFIG", raising=False)
    assert Settings().log_level == "WARNING"
