"""HTML mail to readable plain text, in linear time, without fetching or running anything.

Not `html.parser`: on this Python (3.11.7) it goes quadratic on hostile input (400 KB of
`<a<a<a…` took over two minutes), and mail HTML is hostile input. One regular expression
tokenises instead; every alternative either matches at its position or runs to the end of the
input, so no position is scanned twice, and unclosed constructs swallow the rest, as a
browser would.
"""

from __future__ import annotations

import html
import re

MAX_HTML_CHARS = 2_000_000
"""Longer HTML is cut here before conversion (the caller keeps the whole HTML)."""

_TOKEN = re.compile(
    r"""
      (?P<comment><!--.*?(?:-->|\Z))
    | <(?P<close>/?)(?P<name>[A-Za-z][^\s/>]*)(?P<attrs>(?:[^>"']|"[^"]*"?|'[^']*'?)*)>?
    | (?P<other><[!?/][^>]*>?)
    | (?P<text>(?:[^<]|<(?![A-Za-z!?/]))[^<]*(?:<(?![A-Za-z!?/])[^<]*)*|<)
    """,
    re.S | re.X,
)
_ATTR = re.compile(r"""([^\s=/>"']+)\s*(?:=\s*("[^"]*"?|'[^']*'?|[^\s>"']*))?""")

_SKIP = frozenset({"script", "style", "head", "title", "template", "xml"})
_SKIP_TO_END_IF_UNCLOSED = frozenset({"script", "style"})
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl"}
)
_LINE = frozenset(
    {
        "div", "tr", "li", "dt", "dd", "hr", "section", "article", "header", "footer", "nav",
        "aside", "form", "fieldset", "address", "figure", "figcaption", "main", "center",
        "caption", "tbody", "thead", "tfoot", "details", "summary", "body", "html",
    }
)  # fmt: skip
_MAX_LISTS = 20
_MAX_LINK_CHARS = 2048


class _Writer:
    """Collects text with collapsed whitespace, pending line breaks and list bullets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.space = False
        self.breaks = 0
        self.prefix = ""

    def block(self, lines: int) -> None:
        self.breaks = max(self.breaks, lines)
        self.space = False

    def _lead(self, space: bool) -> None:
        if self.breaks or self.prefix:
            if self.parts:
                self.parts.append("\n" * max(self.breaks, 1))
            self.parts.append(self.prefix)
            self.breaks, self.prefix = 0, ""
        elif (space or self.space) and self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append(" ")
        self.space = False

    def text(self, data: str) -> None:
        words = " ".join(data.split())
        if not words:
            self.space = self.space or bool(data)
            return
        self._lead(data[0].isspace())
        self.parts.append(words)
        self.space = data[-1].isspace()

    def verbatim(self, data: str) -> None:
        if data:
            self._lead(False)
            self.parts.append(data.replace("\r\n", "\n").replace("\r", "\n"))

    def result(self) -> str:
        text = "".join(self.parts)
        lines = [line.rstrip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _attributes(raw: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _ATTR.finditer(raw):
        name = match.group(1).lower()
        if name not in found:
            value = match.group(2) or ""
            if value[:1] in ("'", '"'):
                value = value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:]
            found[name] = html.unescape(value)
    return found


def html_to_text(source: str, *, limit: int = MAX_HTML_CHARS) -> str:
    """Readable text of an HTML document: what a person would see, links spelt out.

    Scripts, styles and the head are dropped; block elements break lines; list items get
    bullets; links keep their text with the address in brackets when it says something the
    text does not. Input past `limit` characters is ignored.
    """
    source = source[:limit]
    out = _Writer()
    lists: list[list[int]] = []  # [ordered, counter] per open list
    link: tuple[str, int] | None = None  # (href, index in out.parts where its text starts)
    pre = 0
    closers: dict[str, re.Pattern[str]] = {}
    unclosed: set[str] = set()
    pos, end = 0, len(source)

    def finish_link() -> None:
        nonlocal link
        if link is None:
            return
        href, start = link
        link = None
        shown = "".join(out.parts[start:]).strip()
        plain = href.removeprefix("mailto:")
        if plain and plain not in shown and len(href) <= _MAX_LINK_CHARS:
            out.text(f" [{href}]")

    while pos < end:
        match = _TOKEN.match(source, pos)
        if match is None:  # cannot happen: the text alternative matches any character
            break
        pos = match.end()
        kind = match.lastgroup
        if kind == "text":
            text = html.unescape(match.group("text"))
            if pre:
                out.verbatim(text)
            else:
                out.text(text)
            continue
        if kind != "attrs":
            continue
        name = match.group("name").lower()
        if match.group("close"):
            if name == "a":
                finish_link()
            elif name in ("ul", "ol") and lists:
                lists.pop()
                out.block(2 if not lists else 1)
            elif name == "pre":
                pre = max(0, pre - 1)
                out.block(2)
            elif name in _PARAGRAPH:
                out.block(2)
            elif name in _LINE:
                out.block(1)
            elif name in ("td", "th"):
                out.space = True
            continue

        if name in _SKIP and name not in unclosed:
            closer = closers.get(name)
            if closer is None:
                closer = closers[name] = re.compile(rf"</{name}\s*>", re.I)
            found = closer.search(source, pos)
            if found is not None:
                pos = found.end()
                continue
            unclosed.add(name)  # no later search can succeed either
            if name in _SKIP_TO_END_IF_UNCLOSED:
                break
            continue
        if name in _SKIP:
            continue

        if name == "br":
            out.block(1)
        elif name in ("ul", "ol"):
            lists.append([name == "ol", 0])
            out.block(1 if len(lists) > 1 else 2)
        elif name == "li":
            out.block(1)
            indent = "  " * (min(len(lists), _MAX_LISTS) - 1) if lists else ""
            if lists and lists[-1][0]:
                lists[-1][1] += 1
                out.prefix = f"{indent}{lists[-1][1]}. "
            else:
                out.prefix = f"{indent}- "
        elif name == "a":
            finish_link()
            href = _attributes(match.group("attrs") or "").get("href", "").strip()
            if href and not href.lower().startswith(("#", "javascript:", "data:", "cid:")):
                link = (href, len(out.parts))
        elif name == "img":
            alt = " ".join(_attributes(match.group("attrs") or "").get("alt", "").split())
            if alt:
                out.text(f" [{alt}] ")
        elif name == "pre":
            pre += 1
            out.block(2)
        elif name in _PARAGRAPH:
            out.block(2)
        elif name in _LINE:
            out.block(1)
        elif name in ("td", "th"):
            out.space = True
    finish_link()
    return out.result()
