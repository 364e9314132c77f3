"""The composer's canned reply finder: type to filter, the reply filled in for this ticket beside
the list, a key to switch its language, Enter to take it.

The store is read through a `CannedSource` (tui.data.CannedLoader) from worker threads only,
so a slow store never freezes typing. Titles and bodies were written by people and may quote
mail, so everything shown goes through the inert filters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Protocol

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from supportdesk.desk.canned import CannedMatch, RenderedCanned
from supportdesk.errors import SupportdeskError
from supportdesk.i18n import _
from supportdesk.text import inert, one_line
from supportdesk.tui.bindings import bindings
from supportdesk.tui.format import macro_words
from supportdesk.tui.widgets.fields import Field


@dataclass(frozen=True)
class CannedChoice:
    """The reply the agent took, in the language its preview showed."""

    name: str
    language: str | None


class CannedSource(Protocol):
    """What the picker reads; every call may block, so the picker makes them in threads."""

    def customer_language(self) -> str | None: ...

    def find(self, query: str) -> list[CannedMatch]: ...

    def render(self, name: str, language: str | None) -> RenderedCanned: ...


class CannedFound(Message):
    def __init__(self, query: str, matches: list[CannedMatch], language: str | None) -> None:
        super().__init__()
        self.query = query
        self.matches = matches
        self.language = language


class CannedRendered(Message):
    def __init__(
        self, name: str, language: str | None, rendered: RenderedCanned | None, error: str
    ) -> None:
        super().__init__()
        self.name = name
        self.language = language
        self.rendered = rendered
        self.error = error


def preview_text(match: CannedMatch, rendered: RenderedCanned | None, error: str) -> Text:
    """The preview pane: the filled-in reply, its macro, or why it cannot be used."""
    text = Text()
    if rendered is None:
        text.append(one_line(match.title, 200), style="bold")
        text.append("\n\n")
        text.append(_("Cannot be used on this ticket:") + "\n", style="bold")
        text.append(inert(error or match.problem))
        return text
    text.append(one_line(rendered.title, 200), style="bold")
    macro = macro_words(rendered.status, rendered.priority, rendered.tags)
    if macro:
        text.append(
            "\n" + _("also sets: {changes}").format(changes=one_line(macro, 200)), style="italic"
        )
    text.append("\n\n")
    text.append(inert(rendered.text.rstrip("\n")))
    return text


def language_line(rendered: RenderedCanned | None, languages: list[str], key: str) -> Text:
    """Which variant the preview shows and which others the switch key reaches."""
    if rendered is None or not languages:
        return Text("")
    shown = one_line(rendered.language)
    others = [one_line(code) for code in languages if code != rendered.language]
    line = Text(_("Language: {language}").format(language=shown), style="bold")
    if others:
        line.append(
            "   " + _("{key} switches to {languages}").format(key=key, languages=", ".join(others)),
            style="dim",
        )
    return line


class CannedPickerScreen(ModalScreen[CannedChoice | None]):
    """Find a canned reply and see it filled in for the ticket before taking it."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("canned")

    # Not the console's `.dialog` class: its stylesheet sizes dialogs for one short list, and
    # an app's stylesheet wins over DEFAULT_CSS.
    DEFAULT_CSS = """
    CannedPickerScreen .canned-dialog {
        width: 90%; height: 80%; padding: 1 2; border: thick $primary; background: $surface;
    }
    CannedPickerScreen #canned-panes { height: 1fr; }
    CannedPickerScreen #canned-options { width: 40%; height: 1fr; max-height: 100%; }
    CannedPickerScreen #canned-side { width: 1fr; height: 1fr; padding-left: 1; }
    CannedPickerScreen #canned-language { height: auto; }
    CannedPickerScreen #canned-scroll { height: 1fr; }
    CannedPickerScreen #canned-status { height: auto; color: $warning; }
    """

    def __init__(
        self,
        source: CannedSource,
        *,
        language: str | None = None,
        title: str | None = None,
    ) -> None:
        """`language`: the variant to show first (the draft's); None reads the customer's."""
        super().__init__()
        self.source = source
        self.title_text = title if title is not None else _("Insert a canned reply")
        self.preferred = language
        self._language_known = language is not None
        self.matches: list[CannedMatch] = []
        self._chosen_language: dict[str, str] = {}
        self._previews: dict[tuple[str, str | None], tuple[RenderedCanned | None, str]] = {}
        self._pick_when_ready: str | None = None

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="canned-dialog"):
            yield Label(Text(self.title_text), classes="dialog-title")
            yield Field(placeholder=_("type to filter by name or text"), id="canned-filter")
            with Horizontal(id="canned-panes"):
                yield OptionList(id="canned-options")
                with Vertical(id="canned-side"):
                    yield Static("", id="canned-language")
                    with VerticalScroll(id="canned-scroll"):
                        yield Static("", id="canned-preview")
            yield Static("", id="canned-status")
            yield Label(Text(self._hint()), classes="dialog-hint")

    def _hint(self) -> str:
        return _("enter inserts · {language} switches language · {cancel} cancels").format(
            language=self._key("switch_language"), cancel=self._key("cancel")
        )

    def _key(self, action: str) -> str:
        """The key bound to `action` now (after `[keymap]`), as the help screen writes it."""
        from supportdesk.tui.keys import display_key, display_keys

        if self.is_attached:
            for key, active in self.active_bindings.items():
                if active.node is self and active.binding.action == action:
                    return display_key(key)
        for binding in bindings("canned"):
            if isinstance(binding, Binding) and binding.action == action:
                return display_keys(binding.key)
        return action

    def on_mount(self) -> None:
        self.query_one("#canned-filter", Input).focus()
        self._load_matches("")

    # -- reading, in threads -----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="canned-find")
    def _load_matches(self, query: str) -> None:
        language = self.preferred
        try:
            if not self._language_known:
                language = self.source.customer_language()
            matches = self.source.find(query)
        except SupportdeskError as exc:
            self.post_message(CannedRendered("", None, None, str(exc)))
            return
        self.post_message(CannedFound(query, matches, language))

    @work(thread=True, exclusive=True, group="canned-render")
    def _load_preview(self, name: str, language: str | None) -> None:
        try:
            rendered: RenderedCanned | None = self.source.render(name, language)
            error = ""
        except SupportdeskError as exc:
            rendered, error = None, str(exc)
        self.post_message(CannedRendered(name, language, rendered, error))

    # -- showing -------------------------------------------------------------------------------

    def on_canned_found(self, message: CannedFound) -> None:
        if message.query != self.query_one("#canned-filter", Input).value:
            return
        if not self._language_known:
            self.preferred, self._language_known = message.language, True
        self.matches = message.matches
        options = self.query_one("#canned-options", OptionList)
        options.set_options(self._option(m) for m in self.matches)
        if self.matches:
            options.highlighted = 0
            self._show(self.matches[0])
        else:
            self.query_one("#canned-language", Static).update("")
            note = (
                _("no canned reply matches")
                if message.query.strip()
                else _("no canned replies yet")
            )
            self.query_one("#canned-preview", Static).update(Text(note, style="dim italic"))

    @staticmethod
    def _option(match: CannedMatch) -> Option:
        label = Text(one_line(match.title, 60))
        if match.title != match.name:
            label.append(f"  {one_line(match.name, 40)}", style="dim")
        if len(match.languages) > 1:
            label.append("  " + "/".join(one_line(c) for c in match.languages), style="dim")
        if match.problem:
            label.append("  ⚠", style="bold")
        return Option(label, id=match.name)

    @property
    def highlighted(self) -> CannedMatch | None:
        options = self.query_one("#canned-options", OptionList)
        index = options.highlighted
        if index is None or not 0 <= index < len(self.matches):
            return None
        return self.matches[index]

    def _wanted_language(self, name: str) -> str | None:
        return self._chosen_language.get(name, self.preferred)

    def _show(self, match: CannedMatch) -> None:
        key = (match.name, self._wanted_language(match.name))
        if key in self._previews:
            self._paint(match, *self._previews[key])
        else:
            self.query_one("#canned-preview", Static).update(Text("…", style="dim"))
            self._load_preview(*key)

    def _paint(self, match: CannedMatch, rendered: RenderedCanned | None, error: str) -> None:
        languages = rendered.languages if rendered is not None else match.languages
        self.query_one("#canned-language", Static).update(
            language_line(rendered, languages, self._key("switch_language"))
        )
        self.query_one("#canned-preview", Static).update(preview_text(match, rendered, error))
        self.query_one("#canned-scroll", VerticalScroll).scroll_home(animate=False)

    def on_canned_rendered(self, message: CannedRendered) -> None:
        if not message.name:
            self._say(message.error)
            return
        self._previews[(message.name, message.language)] = (message.rendered, message.error)
        match = self.highlighted
        if match is None or match.name != message.name:
            return
        if self._wanted_language(match.name) != message.language:
            return
        self._paint(match, message.rendered, message.error)
        if self._pick_when_ready == match.name:
            self._pick_when_ready = None
            self._pick(match)

    def _say(self, words: str) -> None:
        self.query_one("#canned-status", Static).update(Text(one_line(words, 300)))

    @on(Input.Changed, "#canned-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._pick_when_ready = None
        self._load_matches(event.value)

    @on(OptionList.OptionHighlighted, "#canned-options")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        match = self.highlighted
        if match is not None:
            self._say("")
            self._show(match)

    @on(Input.Submitted, "#canned-filter")
    def _submit_filter(self) -> None:
        match = self.highlighted
        if match is not None:
            self._pick(match)

    @on(OptionList.OptionSelected, "#canned-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        match = self.highlighted
        if match is not None:
            self._pick(match)

    def _pick(self, match: CannedMatch) -> None:
        """Take the highlighted reply, once its preview says it can be used on this ticket."""
        key = (match.name, self._wanted_language(match.name))
        if key not in self._previews:
            self._pick_when_ready = match.name
            return
        rendered, error = self._previews[key]
        if rendered is None:
            self.app.bell()
            self._say(_("cannot use {name}: {error}").format(name=match.name, error=error))
            return
        self.dismiss(CannedChoice(rendered.name, rendered.language))

    # -- keys ----------------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        options = self.query_one("#canned-options", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_switch_language(self) -> None:
        """Show the highlighted reply in its next language; Enter then takes that one."""
        match = self.highlighted
        if match is None:
            return
        key = (match.name, self._wanted_language(match.name))
        rendered = self._previews.get(key, (None, ""))[0]
        languages = rendered.languages if rendered is not None else match.languages
        if len(languages) < 2:
            if languages:
                said = _("{name} is written in {languages} only").format(
                    name=match.name, languages=", ".join(languages)
                )
            else:
                said = _("{name} is written in one language only").format(name=match.name)
            self._say(said)
            return
        current = rendered.language if rendered is not None else languages[0]
        at = languages.index(current) if current in languages else -1
        self._chosen_language[match.name] = languages[(at + 1) % len(languages)]
        self._say("")
        self._show(match)

    def action_cancel(self) -> None:
        self.dismiss(None)
