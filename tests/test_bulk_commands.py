"""The bulk command table is the CLI's bulk commands: one entry, one command, same inputs."""

from __future__ import annotations

import pytest
import typer

from supportdesk.cli import tickets
from supportdesk.desk.bulk_commands import COMMANDS, prepare
from supportdesk.errors import ValidationError


def test_every_table_entry_is_a_cli_command_with_its_inputs_and_the_shared_options() -> None:
    group = typer.main.get_group(tickets.app)
    for entry in COMMANDS:
        command = group.commands[entry.name]
        names = [p.name for p in command.params]
        assert names == [p.name for p in entry.params] + ["dry_run", "yes", "as_json"]
        assert command.help == entry.help


def test_a_change_reads_its_inputs_in_the_domain() -> None:
    tagged = prepare("tag", tags="vip, tag!! urgent")
    assert tagged.what == "tag vip,urgent"
    assert tagged.refused is not None and tagged.refused.startswith("tag 'tag!!': '!' is not")
    with pytest.raises(ValidationError, match="nothing changed"):
        prepare("untag", tags="!!")
    assert prepare("reassign", from_agent="alice", to_agent="bob").narrow is not None
    assert prepare("merge", into=7).what == "merge into #7"
