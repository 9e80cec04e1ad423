"""``%om SUBCOMMAND -h`` shows the subcommand's options for every subcommand (never an error)."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from omega_jupyter.magics import COMMANDS
from tests.magics_shell import make_shell


@pytest.fixture
def shell(om, database_url, bucket):  # type: ignore[no-untyped-def]
    return make_shell(database_url, bucket)


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_subcommand_shows_help(shell, om, flag) -> None:
    for name in COMMANDS:
        with capture_output() as shown:
            result = shell.run_cell(f"%om {name} {flag}")
        assert result.error_in_exec is None, f"%om {name} {flag}: {result.error_in_exec!r}"
        assert result.result is None
        # an alias (``experiment`` for ``exp``) shows the help of the subcommand it names
        names = [other for other, fn in COMMANDS.items() if fn is COMMANDS[name]]
        usages = [f"usage: %om {other} " for other in names]
        assert any(u in shown.stdout for u in usages), (name, shown.stdout, shown.stderr)
        assert "-h, --help" in shown.stdout
    assert om.datasets.list() == []  # help does nothing else


def test_sql_help_on_the_line_and_in_the_cell(shell) -> None:
    for cell in ("%om sql -h", "%%om sql -h\nSELECT 1", "%om --bucket other sql --help"):
        with capture_output() as shown:
            result = shell.run_cell(cell)
        assert result.error_in_exec is None, f"{cell!r}: {result.error_in_exec!r}"
        assert "usage: %om sql" in shown.stdout and "--into" in shown.stdout
        assert "dataset names" in shown.stdout


def test_a_shell_comment_ends_the_line(shell, om) -> None:
    om.datasets.put({"x": 1}, "cfg")
    table = shell.run_cell("%om   # the list of subcommands").result
    assert "%om put" in repr(table)
    listing = shell.run_cell("%om ls datasets  # what is stored").result
    assert "cfg" in repr(listing)
    shell.user_ns["df"] = __import__("pandas").DataFrame({"tag": ["#a", "b#c"]})
    shell.run_cell("%om put df tags # a comment")
    got = shell.run_cell("%om get tags tag=b#c").result
    assert got.tag.tolist() == ["b#c"]  # a # inside a word is the word's
