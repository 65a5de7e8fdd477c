"""The typer-free path of `claim`, `log` and `inbound` (console/commands/fast.py).

It must read a command line exactly as the typer app would, or leave it to typer: its
options are checked against the typer commands, and for generated command lines every one
it reads must be read by typer too, with the same values.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from console.cli import app
from console.commands import fast, outreach, work

runner = CliRunner()
# Where each command's typer callback sends its values (the fast path calls the same).
TARGETS = {"claim": (work, "claim"), "log": (work, "log"), "inbound": (outreach, "inbound")}


def _typer_values(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> dict[str, Any] | None:
    """What the typer app passes to the command's function for `argv` (None: it refused)."""
    seen: list[dict[str, Any]] = []
    module, name = TARGETS[argv[0]]
    monkeypatch.setattr(module, name, lambda **values: seen.append(values))
    result = runner.invoke(app, argv)
    if result.exit_code != 0:
        return None
    assert len(seen) == 1, (argv, result.output)
    return seen[0]


def test_the_fast_commands_are_the_typer_commands() -> None:
    group = typer.main.get_command(app)
    assert set(fast.COMMANDS) == set(TARGETS)
    for name, command in fast.COMMANDS.items():
        module, function = TARGETS[name]
        assert command.run is getattr(module, function)
        params = group.commands[name].params  # type: ignore[attr-defined]
        assert [p.name for p in params] == [p.name for p in command.params], name
        for theirs, ours in zip(params, command.params, strict=True):
            where = (name, ours.name)
            assert theirs.type_descriptor.annotation is ours.kind, where
            assert theirs.required is ours.required, where
            if not ours.required:
                assert theirs.default == ours.default, where
            assert (theirs.nargs, theirs.multiple, theirs.envvar, theirs.callback) == (
                1, False, None, None), where
            assert (theirs.min, theirs.max) == (None, None), where
            if ours.flag is None:
                assert theirs.param_type_name == "argument", where
            else:
                assert theirs.param_type_name == "option", where
                assert (theirs.opts, theirs.secondary_opts) == ([ours.flag], []), where
                assert theirs.is_flag is (ours.kind is bool), where
                assert theirs.prompt is None, where


@pytest.mark.parametrize("argv", [
    ["claim", "--as", "a@agency.test", "--json"],
    ["claim", "--json", "--as=a@agency.test"],
    ["log", "12", "--as", "a@agency.test", "--disposition", "no_answer", "--minutes", "1"],
    ["log", "--as", "a@agency.test", "7", "--disposition", "referred", "--lead-first-name",
     "Ana", "--lead-phone", "212-555-0142", "--minutes", "2.5", "--json"],
    ["log", "3", "--as", "a@agency.test", "--disposition", "loop_closed", "--send-thank-you",
     "--notes", "--not-an-option", "--callback-at", "2026-12-01T10:00"],
    ["inbound", "--channel", "sms", "--from", "+13125550100", "--text", "STOP", "--json"],
    ["inbound", "--channel", "email", "--from", "a@example.test", "--text", ""],
])
def test_plain_command_lines_take_the_fast_path_with_typers_values(
    argv: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed = fast.parse(argv)
    assert parsed is not None
    assert parsed == (argv[0], _typer_values(monkeypatch, argv))


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["claim"], ["claim", "--help"], ["claim", "--as"], ["claim", "-h"],
    ["claim", "--as", "a", "--as", "b"], ["claim", "--as", "a", "--json=1"],
    ["claim", "--as", "a", "extra"], ["claim", "--", "--as", "a"], ["queue", "--as", "a"],
    ["log", "+1", "--as", "a", "--disposition", "x"], ["log", "1e2", "--as", "a",
                                                        "--disposition", "x"],
    ["log", "007", "--as", "a", "--disposition", "x"],
    ["log", "1", "--as", "a", "--disposition", "x", "--minutes", "1e3"],
    ["log", "1", "--as", "a", "--disposition", "x", "--minutes", ".5"],
    ["inbound", "--channel", "sms", "--from", "x"],
    ["inbound", "--channel", "sms", "--from", "x", "--text", "t", "--no-json"],
])
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert fast.parse(argv) is None


VALUES = st.sampled_from([
    "0", "12", "007", "1.5", "+3", " 4", "1_0", "-1", "1e3", "no_answer", "sms", "STOP now",
    "x@agency.test", "", "é", "١٢", "--json", "--help", "--", "-",
])
WORDS = st.one_of(VALUES, st.sampled_from([
    "--as", "--json", "--disposition", "--minutes", "--notes", "--lead-phone",
    "--send-thank-you", "--channel", "--from", "--text", "--minutes=2", "--json=1", "-x",
]))


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A command's parameters in any order, in both spellings, with stray words put in."""
    name = draw(st.sampled_from(sorted(fast.COMMANDS)))
    chunks: list[list[str]] = []
    for param in fast.COMMANDS[name].params:
        if param.flag is None:
            chunks.append([draw(VALUES)])
        elif param.required or draw(st.booleans()):
            if param.kind is bool:
                chunks.append([param.flag])
            else:
                value = draw(VALUES)
                chunks.append([f"{param.flag}={value}"] if draw(st.booleans())
                              else [param.flag, value])
    words = [word for chunk in draw(st.permutations(chunks)) for word in chunk]
    for _ in range(draw(st.integers(0, 2))):
        words.insert(draw(st.integers(0, len(words))), draw(WORDS))
    return [name, *words]


@given(argv=command_lines())
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_what_the_fast_path_reads_typer_reads_the_same(
    argv: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed = fast.parse(argv)
    if parsed is not None:
        assert parsed == (argv[0], _typer_values(monkeypatch, argv)), argv


def test_the_fast_path_pauses_the_collector_and_resumes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In-process callers (these tests) get the collector back after a fast command."""
    import gc
    import sys

    from console.cli import main

    seen: list[bool] = []
    command = fast.COMMANDS["claim"]
    monkeypatch.setitem(fast.COMMANDS, "claim", fast.Command(
        lambda **values: seen.append(gc.isenabled()), command.params))
    monkeypatch.setattr(sys, "argv", ["loopdesk", "claim", "--as", "a@agency.test"])
    assert gc.isenabled()
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0 and seen == [False]
    assert gc.isenabled()
