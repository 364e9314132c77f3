"""config.toml: the example loads, mistakes are one line naming file and key, paths resolve."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from supportdesk import paths, resources
from supportdesk.cli import app
from supportdesk.cli.config_cmd import effective_settings, render_toml
from supportdesk.config import (
    DEFAULT_SOURCE,
    EXPLICIT_SOURCE,
    BulkSettings,
    ComposeSettings,
    ConsoleSettings,
    Mailbox,
    SavedSearch,
    SendSettings,
    Settings,
    SyncSettings,
    load_settings,
    parse_settings,
    resolve_config_path,
    setting_docs,
)
from supportdesk.errors import ConfigError, NotFoundError
from supportdesk.resources import data_path

MAILBOX = 'name = "support"\naddress = "support@example.com"\nimap_host = "imap.example.com"\n'


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test reads or writes the real config or data dirs."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SUPPORTDESK_CONFIG", raising=False)
    return tmp_path


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


# --- the example config -------------------------------------------------------------------


def test_example_config_loads_and_states_the_defaults() -> None:
    example = data_path("config.example.toml")
    assert example.name == "config.example.toml"
    assert load_settings(example) == Settings()


def test_example_commented_sections_are_valid_when_uncommented(isolated: Path) -> None:
    """The saved search and mailbox examples are comments; uncommented they must still load."""
    (isolated / "home" / "certs").mkdir(parents=True)
    (isolated / "home" / "certs" / "mail-ca.pem").write_text("not checked here\n")
    text = data_path("config.example.toml").read_text()
    head, tail = text.split("\n[keymap]\n")
    assignment = re.compile(r"^# ((?:\[\[\w+\]\])|(?:[\w\"\.-]+ = .+))$", re.MULTILINE)
    uncommented = assignment.sub(r"\1", tail)
    settings = parse_settings(f"{head}\n[keymap]\n{uncommented}", isolated / "x")

    assert settings.keymap == {"ticket.assign": "ctrl+a,a"}
    assert [s.name for s in settings.saved_searches] == ["Mine, open"]
    support, billing = settings.mailboxes
    assert support.name == "support"
    assert support.password_command == "pass show mail/support"
    assert support.ca_file == isolated / "home" / "certs" / "mail-ca.pem"
    assert billing.auth == "oauth2"
    assert billing.after_import == "move"
    assert billing.move_to == "Archive"
    assert billing.imap_port == 993


def _every_key(model: type[BaseModel]) -> set[str]:
    keys = set(model.model_fields)
    for field in model.model_fields.values():
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= _every_key(candidate)
    return keys


def test_example_documents_every_key() -> None:
    text = data_path("config.example.toml").read_text()
    for key in _every_key(Settings):
        assert re.search(rf"^(# )?(\[\[?{key}\]\]?|{key} = )", text, re.MULTILINE), key


def test_every_setting_has_a_description() -> None:
    for model in (
        Settings,
        BulkSettings,
        ConsoleSettings,
        ComposeSettings,
        SendSettings,
        SyncSettings,
        SavedSearch,
        Mailbox,
    ):
        docs = setting_docs(model)
        for name in model.model_fields:
            assert docs.get(name), f"{model.__name__}.{name}"


# --- values -------------------------------------------------------------------------------


def test_missing_default_file_means_defaults(isolated: Path) -> None:
    settings = load_settings(None)
    assert settings == Settings()
    assert settings.bulk.confirm_above == 50
    assert settings.sync.idle_refresh_minutes == 9
    store = isolated / "xdg-data" / "supportdesk" / "supportdesk.db"
    assert settings.store_url() == f"sqlite:///{store}"


def test_mailbox_defaults_follow_security(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            f"[[mailboxes]]\n{MAILBOX}\n[[mailboxes]]\n"
            'name = "local"\naddress = "desk@localhost"\nimap_host = "::1"\n'
            'security = "none"\nusername = "desk"\nfolders = ["INBOX", "Support"]\n',
        )
    )
    tls, plain = settings.mailboxes
    assert (tls.imap_port, tls.username, tls.folders) == (993, "support@example.com", ["INBOX"])
    assert (plain.imap_port, plain.username, plain.folders) == (143, "desk", ["INBOX", "Support"])
    assert settings.mailbox("local") is plain
    with pytest.raises(NotFoundError, match="support, local"):
        settings.mailbox("sales")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_security_none_is_allowed_on_loopback(tmp_path: Path, host: str) -> None:
    text = f'[[mailboxes]]\nname = "t"\naddress = "t@x.test"\nimap_host = "{host}"\n'
    settings = load_settings(write(tmp_path, text + 'security = "none"\n'))
    assert settings.mailboxes[0].security == "none"


def test_relative_ca_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    settings = load_settings(write(tmp_path, f'[[mailboxes]]\n{MAILBOX}ca_file = "ca.pem"\n'))
    assert settings.mailboxes[0].ca_file == tmp_path / "ca.pem"


def test_store_url_expands_home(isolated: Path) -> None:
    settings = Settings(database_url="sqlite:///~/desk.db")
    assert settings.store_url() == f"sqlite:///{isolated / 'home' / 'desk.db'}"
    url = "postgresql://desk@db.example.com/desk"
    assert Settings(database_url=url).store_url() == url


# --- one line per mistake -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mailbox = 1\n", "mailbox: unknown key (did you mean 'mailboxes'?)"),
        ("[sync]\nbatch_sise = 10\n", "sync.batch_sise: unknown key (did you mean 'batch_size'?)"),
        (
            f"[[mailboxes]]\n{MAILBOX}imap_prot = 993\n",
            "mailboxes[0].imap_prot: unknown key (did you mean 'imap_port'?)",
        ),
        (
            f'[[mailboxes]]\n{MAILBOX}imap_port = "993"\n',
            "mailboxes[0].imap_port: expected an integer; got '993' (a string)",
        ),
        ("theme = true\n", "theme: expected a string; got true (a boolean)"),
        ("bulk = 5\n", "bulk: expected a table ([bulk]); got 5 (an integer)"),
        (
            "[mailboxes]\nname = 'x'\n",
            "mailboxes: expected an array of tables ([[mailboxes]]); got {'name': 'x'} (a table)",
        ),
        (
            f'[[mailboxes]]\n{MAILBOX}security = "ssl"\n',
            "mailboxes[0].security: expected one of tls, starttls, none; got 'ssl'",
        ),
        (
            f"[[mailboxes]]\n{MAILBOX}imap_port = 0\n",
            "mailboxes[0].imap_port: expected an integer from 1 to 65535; got 0",
        ),
        (
            "[sync]\nbatch_size = 1001\n",
            "sync.batch_size: expected an integer from 1 to 1000; got 1001",
        ),
        ("[sync]\npoll_seconds = 4\n", "sync.poll_seconds: expected an integer >= 5; got 4"),
        (
            "[sync]\nmax_message_bytes = 0\n",
            "sync.max_message_bytes: expected an integer > 0; got 0",
        ),
        ("[bulk]\nconfirm_above = -1\n", "bulk.confirm_above: expected an integer >= 0; got -1"),
        (
            "[sync]\nidle_refresh_minutes = 30\n",
            "sync.idle_refresh_minutes: expected an integer from 1 to 29; got 30",
        ),
        (
            "[console]\nidle_seconds = 5\n",
            "console.idle_seconds: expected an integer from 10 to 3600; got 5",
        ),
        (
            "[notifications]\ndigest_minutes = -1\n",
            "notifications.digest_minutes: expected an integer from 0 to 10080; got -1",
        ),
        (
            '[notifications]\nmailbox = "nope"\n',
            "notifications.mailbox: no mailbox 'nope' with an smtp_host (those that send: none)",
        ),
        (
            "[notifications]\ndigest_minutes = 15\n",
            "notifications.digest_minutes: the digest is on, but no mailbox has an smtp_host to"
            " send it from",
        ),
        (
            "[sla]\nwarn_minutes = 0\n",
            "sla.warn_minutes: expected an integer from 1 to 10080; got 0",
        ),
        (
            '[keymap]\n"ticket.assign" = "ctrl+a,,a"\n',
            'keymap."ticket.assign": expected comma-separated keys like "ctrl+a,a"; '
            "got 'ctrl+a,,a'",
        ),
        (
            'database_url = "mysql://desk:hunter2@db/desk"\n',
            "database_url: expected a URL starting with one of sqlite:///, postgresql://, "
            "postgresql+psycopg://; got 'mysql://desk:***@db/desk'",
        ),
        (
            f'[[mailboxes]]\n{MAILBOX}auth = "oauth2"\n',
            'mailboxes[0].token_command: required when auth = "oauth2"',
        ),
        (
            f'[[mailboxes]]\n{MAILBOX}after_import = "move"\n',
            'mailboxes[0].move_to: required when after_import = "move"',
        ),
        (
            f"[[mailboxes]]\n{MAILBOX}[[mailboxes]]\n{MAILBOX}",
            "mailboxes[1].name: name 'support' is already used by entry [0]",
        ),
        (
            "[[saved_searches]]\nname = 'a'\nquery = 'x'\n"
            "[[saved_searches]]\nname = 'a'\nquery = 'y'\n",
            "saved_searches[1].name: name 'a' is already used by entry [0]",
        ),
        (
            'name = "x"\n[[mailboxes]]\naddress = "a@b.test"\nimap_host = "h"\n',
            "name: unknown key (known keys: database_url, database_password_command, agent, "
            "theme, language, timezone, bulk, sync, compose, send, console, csat, "
            "notifications, sla, keymap, saved_searches, mailboxes) "
            "(and 1 more problem)",
        ),
        (
            f'[[mailboxes]]\n{MAILBOX}password_command = "pass \'unclosed"\n',
            "mailboxes[0].password_command: cannot be split into words: No closing quotation",
        ),
        (
            'agent = "Alice Smith"\n',
            "agent: expected an agent handle (lower-case letters, digits, '.', '_', '-'; "
            "at most 64); got 'Alice Smith'",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert config_error(tmp_path, text) == expected


def test_a_password_in_a_mailbox_is_refused_without_echoing_it(tmp_path: Path) -> None:
    message = config_error(tmp_path, f'[[mailboxes]]\n{MAILBOX}password = "hunter2"\n')
    assert message == (
        "mailboxes[0].password: passwords never go in config: use "
        "`supportdesk mailbox login support` (keyring) or password_command"
    )
    assert "hunter2" not in message


def test_security_none_is_refused_on_a_remote_host(tmp_path: Path) -> None:
    message = config_error(tmp_path, f'[[mailboxes]]\n{MAILBOX}security = "none"\n')
    assert message.startswith("mailboxes[0].security: ")
    assert "loopback" in message
    assert "'imap.example.com'" in message


def test_invalid_toml_names_line_and_column(tmp_path: Path) -> None:
    message = config_error(tmp_path, 'theme = "dark"\n[sync]\npoll_seconds = = 5\n')
    assert message == "line 3, column 16: invalid TOML: Invalid value"


def test_text_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'theme = "\xff"\n')
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 9\)$"):
        load_settings(path)


def test_data_path_prefers_the_wheel_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = tmp_path / "checkout" / "supportdesk"
    (package / "_data" / "themes").mkdir(parents=True)
    (tmp_path / "checkout" / "themes").mkdir()
    (tmp_path / "checkout" / "config.example.toml").write_text("")
    monkeypatch.setattr(resources, "_PACKAGE_DIR", package)
    assert resources.data_path("themes") == package / "_data" / "themes"
    assert (
        resources.data_path("config.example.toml") == tmp_path / "checkout" / "config.example.toml"
    )
    with pytest.raises(FileNotFoundError, match=r"nothing\.toml"):
        resources.data_path("nothing.toml")


# --- where the file is --------------------------------------------------------------------


def test_xdg_dirs_are_honoured(isolated: Path) -> None:
    config = isolated / "xdg-config" / "supportdesk"
    data = isolated / "xdg-data" / "supportdesk"
    assert paths.config_dir() == config
    assert paths.default_config_path() == config / "config.toml"
    assert paths.user_themes_dir() == config / "themes"
    assert paths.data_dir() == data
    assert paths.default_store_path() == data / "supportdesk.db"
    assert paths.demo_store_path() == data / "demo.db"
    assert resolve_config_path(None) == (config / "config.toml", DEFAULT_SOURCE)


def test_relative_xdg_values_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    assert paths.config_dir().is_absolute()


def test_default_file_is_read_when_present(isolated: Path) -> None:
    path = paths.default_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('theme = "light"\n')
    assert load_settings(None).theme == "light"


def test_env_variable_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path, 'agent = "alice"\n', "team.toml")
    monkeypatch.setenv("SUPPORTDESK_CONFIG", str(path))
    assert resolve_config_path(None) == (path, EXPLICIT_SOURCE)
    assert load_settings(None).agent == "alice"


def test_explicit_path_wins_over_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUPPORTDESK_CONFIG", str(tmp_path / "other.toml"))
    path = write(tmp_path, 'agent = "bob"\n')
    assert load_settings(path).agent == "bob"


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing)
    assert str(caught.value) == f"{missing}: no such config file (named by {EXPLICIT_SOURCE})"


# --- the CLI ------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_config_path_json(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    result = runner.invoke(app, ["--config", str(path), "config", "path", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "path": str(path),
        "source": EXPLICIT_SOURCE,
        "exists": False,
    }


def test_cli_config_path_default(isolated: Path) -> None:
    result = runner.invoke(app, ["config", "path", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == str(paths.default_config_path())
    assert json.loads(result.stdout)["source"] == DEFAULT_SOURCE


def test_cli_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    result = runner.invoke(app, ["config", "path", "--json"], env={"SUPPORTDESK_CONFIG": str(path)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "path": str(path),
        "source": EXPLICIT_SOURCE,
        "exists": True,
    }


def test_cli_config_check_ok(tmp_path: Path) -> None:
    path = write(tmp_path, 'theme = "light"\n')
    result = runner.invoke(app, ["--config", str(path), "config", "check"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {path}\n"


def test_cli_config_check_without_any_file_is_ok(isolated: Path) -> None:
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {paths.default_config_path()} (no file: all defaults)\n"


def test_cli_config_check_of_a_missing_named_file_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--config", str(tmp_path / "gone.toml"), "config", "check"])
    assert result.exit_code == 1
    assert "gone.toml: no such config file" in result.stderr


def test_cli_config_check_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = write(tmp_path, "mailbox = 1\n")
    result = runner.invoke(app, ["--config", str(path), "config", "check"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr == f"error: {path}: mailbox: unknown key (did you mean 'mailboxes'?)\n"


def test_cli_config_check_json_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[sync]\npoll_seconds = 1\n")
    result = runner.invoke(app, ["--config", str(path), "config", "check", "--json"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["error"] == f"{path}: sync.poll_seconds: expected an integer >= 5; got 1"


def test_cli_config_show_json_fills_defaults_and_masks_passwords(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'database_url = "postgresql://desk:hunter2@db.example.com/desk"\n'
        f"[sync]\nbatch_size = 10\n[[mailboxes]]\n{MAILBOX}",
    )
    result = runner.invoke(app, ["--config", str(path), "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    report = json.loads(result.stdout)
    assert report["config"] == {"path": str(path), "source": EXPLICIT_SOURCE, "exists": True}
    settings = report["settings"]
    assert settings["database_url"] == "postgresql://desk:***@db.example.com/desk"
    assert settings["sync"] == {
        "max_message_bytes": 26214400,
        "batch_size": 10,
        "poll_seconds": 60,
        "idle_refresh_minutes": 9,
    }
    assert settings["mailboxes"][0]["imap_port"] == 993
    assert settings["mailboxes"][0]["username"] == "support@example.com"


def test_cli_config_show_text_is_toml_that_loads_back(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'agent = "alice"\n[keymap]\n"ticket.assign" = "ctrl+a,a"\n'
        f"[[saved_searches]]\nname = 'Mine'\nquery = 'assignee:me'\n[[mailboxes]]\n{MAILBOX}",
    )
    result = runner.invoke(app, ["--config", str(path), "config", "show"])
    assert result.exit_code == 0, result.output
    shown = tmp_path / "shown.toml"
    shown.write_text(result.stdout)
    assert load_settings(shown).model_dump() == load_settings(path).model_dump() | {
        "database_url": load_settings(path).store_url()
    }


def test_render_toml_comments_out_unset_keys() -> None:
    text = render_toml(effective_settings(Settings()))
    assert "# agent is not set" in text
    assert tomllib.loads(text)["sync"]["batch_size"] == 500


def test_cli_config_show_with_a_bad_file_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "[bulk]\nconfirm_above = '5'\n")
    result = runner.invoke(app, ["--config", str(path), "config", "show"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "bulk.confirm_above: expected an integer; got '5' (a string)" in result.stderr


# --- init ---------------------------------------------------------------------------------


def test_init_writes_config_and_store_and_is_safe_to_rerun(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "config.toml"
    args = ["--config", str(config), "init", "--agent", "alice", "--email", "alice@example.com"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"config: wrote {config}" in result.stdout
    settings = load_settings(config)
    assert settings.agent == "alice"
    store_path = paths.default_store_path()
    assert store_path.exists()
    assert f"store: sqlite:///{store_path}" in result.stdout
    assert "queue: general" in result.stdout
    assert "agent: added alice <alice@example.com>" in result.stdout

    config.write_text('agent = "alice"\ntheme = "light"\n')
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "exists, left as is" in again.stdout
    assert "agent: alice already exists" in again.stdout
    assert load_settings(config).theme == "light"

    forced = runner.invoke(app, ["--config", str(config), "init", "--force"])
    assert forced.exit_code == 0, forced.output
    assert load_settings(config) == Settings()


def test_init_refuses_an_agent_without_email(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    result = runner.invoke(app, ["--config", str(config), "init", "--agent", "alice"])
    assert result.exit_code == 2
    assert "--email" in result.output
    assert not config.exists()


def test_init_refuses_a_bad_handle_before_writing(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    result = runner.invoke(
        app, ["--config", str(config), "init", "--agent", "Al Ice", "--email", "a@example.com"]
    )
    assert result.exit_code == 1
    assert "agent: expected an agent handle" in result.stderr
    assert not config.exists()
