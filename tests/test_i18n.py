"""The message catalogue: complete in Japanese, compiled, and used for every string people read.

The source check walks the faces (and the errors the domain and config raise) and fails on a
string literal in a place a person reads it (a notification, a label, a binding's
description, Typer help, a table header, an error message) that does not go through `_()`,
`N_()` or `ngettext()`.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportdesk import i18n

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "supportdesk"


def _scripts_i18n():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("scripts_i18n", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Calls whose positional arguments are read by a person (for Binding: only the description).
SHOWN_CALLS = {
    "notify",
    "Label",
    "Static",
    "Button",
    "Checkbox",
    "RadioButton",
    "Option",
    "Switch",
    "echo",
    "secho",
    "print",
    "add_column",
    "Column",
    "Panel",
    "Rule",
    "BadParameter",
    "Exit",
    "Abort",
    "_Problem",
    "Table",
    "confirm",
    "prompt",
    "ask",
    "add_task",
    "error",
    "_error",
    "_value_error",
    # The console's own places: Static/Label.update, Text.assemble's (text, style) pairs,
    # the status line, the composer's and pickers' one-line messages, the modal dialogs.
    "update",
    "assemble",
    "say",
    "_say",
    "show_problem",
    "AskScreen",
    "ConfirmScreen",
    "PickScreen",
    "Done",
}
# Attributes read by a person when assigned (`self.border_title = "..."`).
SHOWN_ATTRIBUTES = {
    "TITLE",
    "SUB_TITLE",
    "BORDER_TITLE",
    "title",
    "sub_title",
    "border_title",
    "border_subtitle",
    "placeholder",
    "tooltip",
}
# Calls whose first argument only is read (the rest are styles, alignment, widths).
FIRST_ARGUMENT_CALLS = {"Text", "Col", "cell", "block"}
# Calls whose positional arguments are names, not text (typer.Option("--json")).
NAMES_CALLS = {("typer", "Option"), ("typer", "Argument")}
# Keyword arguments read by a person, in any call.
SHOWN_KEYWORDS = {
    "help",
    "short_help",
    "epilog",
    "title",
    "sub_title",
    "border_title",
    "border_subtitle",
    "placeholder",
    "description",
    "tooltip",
    "prompt",
    "label",
    "message",
    "header",
}
MARKERS = {"_", "N_", "ngettext", "pgettext"}
# Literals shown as they are in every language: the product's name, and example input in
# the tag syntax (an agent types it that way whatever language the console speaks).
UNTRANSLATED = {"supportdesk", "vip -spam"}
# Files whose strings are not all in the catalogue yet. Each change that converts a file
# removes it here; issue 12 is done when this set is empty.
PENDING: set[str] = set()
WORDS = re.compile(r"[A-Za-z]{2,}")


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_error_class(name: str) -> bool:
    return name.endswith(("Error", "Exception", "Failure", "Refused", "Lost"))


def _literal_text(node: ast.expr) -> str | None:
    """The text of a bare literal (or f-string) that holds words, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value in UNTRANSLATED:
            return None
        return node.value if WORDS.search(node.value) else None
    if isinstance(node, ast.JoinedStr):
        text = "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
        return text if WORDS.search(text) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_text(node.left) or _literal_text(node.right)
    return None


def _shown_arguments(call: ast.Call) -> Iterator[ast.expr]:
    name = _name(call.func)
    owner = _name(call.func.value) if isinstance(call.func, ast.Attribute) else ""
    if name == "Binding":
        if len(call.args) >= 3:
            yield call.args[2]
    elif (owner, name) in NAMES_CALLS:
        pass
    elif name in FIRST_ARGUMENT_CALLS:
        yield from call.args[:1]
    elif name in SHOWN_CALLS or _is_error_class(name):
        for argument in call.args:
            if name == "assemble" and isinstance(argument, ast.Tuple) and argument.elts:
                yield argument.elts[0]  # (text, style)
            else:
                yield argument
    for keyword in call.keywords:
        if keyword.arg in SHOWN_KEYWORDS:
            yield keyword.value


def _typer_docstrings(tree: ast.Module) -> Iterator[ast.expr]:
    """Docstrings Typer shows as a command's help: commands and callbacks without `help=`.

    A docstring cannot go through the catalogue, so such a command's help is untranslated.
    """
    functions = {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    registrations: list[tuple[ast.Call, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            registrations += [
                (d, node)
                for d in node.decorator_list
                if isinstance(d, ast.Call) and _name(d.func) in ("command", "callback")
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Call)
            and _name(node.func.func) == "command"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in functions
        ):
            registrations.append((node.func, functions[node.args[0].id]))
    for call, function in registrations:
        if any(k.arg == "help" for k in call.keywords):
            continue
        first = function.body[0] if function.body else None
        if isinstance(first, ast.Expr) and _literal_text(first.value) is not None:
            yield first.value


def unmarked(path: Path, root: Path = ROOT) -> list[str]:
    """`file:line: text` for each shown literal in `path` that is not in the catalogue."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for docstring in _typer_docstrings(tree):
        text = _literal_text(docstring) or ""
        found.append(f"{path.relative_to(root)}:{docstring.lineno}: {text[:60]!r}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) not in MARKERS:
            for argument in _shown_arguments(node):
                text = _literal_text(argument)
                if text is not None:
                    found.append(f"{path.relative_to(root)}:{argument.lineno}: {text[:60]!r}")
        elif isinstance(node, ast.Assign):
            targets = {_name(t) for t in node.targets}
            if targets & SHOWN_ATTRIBUTES:
                text = _literal_text(node.value)
                if text is not None:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {text[:60]!r}")
            if "BINDINGS" in targets and isinstance(node.value, (ast.List, ast.Tuple)):
                for element in node.value.elts:
                    if isinstance(element, ast.Tuple) and len(element.elts) >= 3:
                        text = _literal_text(element.elts[2])
                        if text is not None:
                            found.append(
                                f"{path.relative_to(root)}:{element.lineno}: {text[:60]!r}"
                            )
    return found


def checked_files() -> list[Path]:
    """The faces, and the modules whose errors reach a person as they are worded (the domain,
    the store, config and secrets)."""
    files = sorted((PACKAGE / "cli").rglob("*.py")) + sorted((PACKAGE / "tui").rglob("*.py"))
    files += sorted((PACKAGE / "desk").rglob("*.py"))
    files += sorted((PACKAGE / "store").glob("*.py"))  # not migrations: nobody reads those
    files += [PACKAGE / "config.py", PACKAGE / "secrets.py", PACKAGE / "errors.py"]
    return files


def test_every_shown_string_is_in_the_catalogue() -> None:
    problems: list[str] = []
    for path in checked_files():
        relative = str(path.relative_to(ROOT))
        if relative in PENDING:
            continue
        problems += unmarked(path)
    assert not problems, "strings shown to people outside the catalogue:\n" + "\n".join(problems)


def test_pending_files_exist() -> None:
    missing = [p for p in PENDING if not (ROOT / p).exists()]
    assert not missing, f"PENDING names files that are gone: {missing}"


def test_the_checker_finds_unmarked_strings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from supportdesk.i18n import _\n"
        "def f(app, x):\n"
        "    app.notify('Saved the draft')\n"
        "    app.notify(_('Saved the draft'))\n"
        "    raise ValidationError(f'no queue {x}')\n"
        "    Binding('q', 'quit', 'Quit')\n"
        "    Binding('q', 'quit', N_('Quit'))\n"
        "    typer.Option(help='Print JSON')\n"
        "    app.query_one(Static).update('Loading the thread')\n"
        "    app.query_one(Static).update(_('Loading the thread'))\n"
        "    Text.assemble(('Send failed', 'bold'), (_('Sent'), 'dim'), ' · ')\n"
        "    app.border_title = 'Open tickets'\n"
        "    app.border_title = _('Open tickets')\n"
        "    typer.Option('--json', help=_('Print JSON'))\n"
        "    console.print(Text('Refused', 'bold red'))\n"
        "    FitTable([Col('queue', 'right')], title=_('Queues'))\n"
        "    Table('name', title=_('Rules'))\n"
        "    typer.confirm(f'Change {x} tickets?')\n"
        "@app.command('list')\n"
        "def list_():\n"
        '    "List the rules."\n'
        "@app.command('show', help=_('Show a rule.'))\n"
        "def show():\n"
        '    "Show a rule."\n'
        "def undo():\n"
        '    "Take back a batch."\n'
        "app.command('undo')(undo)\n"
        "BINDINGS = [('j', 'down', 'Down')]\n",
        encoding="utf-8",
    )
    found = unmarked(sample, root=tmp_path)
    texts = sorted(line.split(": ", 1)[1] for line in found)
    assert texts == sorted(
        [
            "'Saved the draft'",
            "'no queue '",
            "'Quit'",
            "'Print JSON'",
            "'Down'",
            "'Loading the thread'",
            "'Send failed'",
            "'Open tickets'",
            "'Refused'",
            "'queue'",
            "'name'",
            "'Change  tickets?'",
            "'List the rules.'",
            "'Take back a batch.'",
        ]
    )


def test_catalogue_is_complete_and_compiled() -> None:
    problems = _scripts_i18n().problems()
    assert not problems, "\n".join(problems)


def test_translations_keep_their_placeholders_and_markup() -> None:
    from babel.messages.pofile import read_po

    fields = re.compile(r"\{[^{}]*\}")
    braces = re.compile(r"\{\{|\}\}")  # str.format's escaped braces are text, not fields
    markup = re.compile(r"\[/?[a-z$#][^\[\]]*\]")
    path = PACKAGE / "locale" / "ja" / "LC_MESSAGES" / "supportdesk.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="ja")
    wrong = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        want_fields = sorted(set(fields.findall(braces.sub("", ids[-1]))))
        want_markup = sorted(markup.findall(ids[-1]))
        for string in strings:
            if sorted(set(fields.findall(braces.sub("", string)))) != want_fields:
                wrong.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
            if sorted(markup.findall(string)) != want_markup:
                wrong.append(f"markup differs: {ids[0]!r} -> {string!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "C.UTF-8", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"LANGUAGE": "ja:en", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_MESSAGES": "ja_JP.eucJP"}, "ja"),
        ({}, "en"),
    ],
)
def test_auto_follows_the_locale(environ: dict[str, str], expected: str) -> None:
    assert i18n.locale_language(environ) == expected


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="expected auto, en or ja"):
        i18n.resolve("fr")


def test_switching_language_changes_translations() -> None:
    before = i18n.current_language()
    try:
        i18n.set_language("ja")
        assert i18n.current_language() == "ja"
        assert i18n._("Print JSON for scripts.") == "スクリプト向けに JSON で出力します。"
        i18n.set_language("en")
        assert i18n._("Print JSON for scripts.") == "Print JSON for scripts."
    finally:
        i18n.set_language(before)


def test_tests_run_in_english() -> None:
    assert os.environ.get("LANGUAGE") == "en"
    assert i18n.current_language() == "en"
