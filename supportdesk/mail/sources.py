"""Mail on disk and on standard input, as the exact bytes stored: mbox, Maildir, .eml, `-`.

The bytes handed on are the bytes in the source, never a re-serialisation: the store keeps them
as the message's raw copy, and a message without a Message-ID is known again by a hash of
them, so a second import of the same source adds nothing. An mbox is split by reading it in
chunks, never whole, so a multi-gigabyte mailbox costs one message's worth of memory.

mbox "From " quoting is left as found. mboxo and mboxrd files look the same (both write a
body line "From x" as ">From x"; only mboxrd also adds a ">" to ">From x"), so undoing the
quoting would be a guess that changes bytes, and the raw copy would no longer match the file.

A source reports a message it cannot read as a `ReadProblem` and goes on with the rest:
one unreadable file in a folder of ten thousand should not stop the other 9,999.
"""

from __future__ import annotations

import os
import re
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

from supportdesk.errors import SupportdeskError

STDIN = "-"
EML_SUFFIX = ".eml"
READ_CHUNK = 1 << 20
MAX_ENVELOPE_LINE = 1000
"""A longer line starting with "From " is body text, not an mbox separator."""

MAX_HEADER_SCAN = 256 * 1024
"""Headers longer than this are not searched for a Content-Length."""
MAX_CONTENT_LENGTH = 1 << 30
"""A larger Content-Length is not trusted: it would mean reading that far ahead to check it."""

_BOM = b"\xef\xbb\xbf"
_ENVELOPE_TIME = re.compile(rb"\b\d{1,2}:\d{2}\b")
_ENVELOPE_YEAR = re.compile(rb"\b\d{4}\b")
_SEPARATOR = b"\nFrom "
_CRLF_SEPARATOR = b"\r\nFrom "
_HEADER_NAME_SCAN = 80
_HEADER_FIELD = re.compile(rb"[!-9;-~]{1,76}[ \t]*:")
_HEADER_END = re.compile(rb"\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d{1,12})[ \t]*\r?$", re.I | re.M)


class SourceError(SupportdeskError):
    """A path given to import cannot be read as mail at all."""


@dataclass(frozen=True)
class RawMail:
    """One message as stored in its source, with where it came from."""

    raw: bytes
    label: str
    """Names the message in errors and reports: a path, or an mbox path with index and offset."""
    consumed: int
    """Bytes of the source this message accounts for, so progress can be told in bytes."""


@dataclass(frozen=True)
class ReadProblem:
    """A message or file that could not be read; the source carries on after it."""

    label: str
    reason: str
    consumed: int = 0


Item = RawMail | ReadProblem


@dataclass(frozen=True)
class Plan:
    """What a source holds, for a progress bar; counted before reading, so only an estimate."""

    messages: int | None
    size: int | None


class MailSource(ABC):
    kind: ClassVar[str]
    style: MboxStyle | None = None
    """For an mbox, what separated its messages (filled in while it is read)."""

    def __init__(self, label: str) -> None:
        self.label = label

    @abstractmethod
    def plan(self) -> Plan: ...

    @abstractmethod
    def __iter__(self) -> Iterator[Item]: ...


def open_source(path: str, *, stdin: BinaryIO | None = None) -> MailSource:
    """The source `path` names, told apart by what is on disk rather than by its name.

    A file starting with "From " is an mbox, unless it is called *.eml: mail clients save
    single messages with their envelope line, and those bytes should be kept whole.
    """
    if path == STDIN:
        if stdin is None:
            raise SourceError("standard input is not available")
        return StdinSource(stdin)
    target = Path(path).expanduser()
    try:
        info = target.stat()
    except FileNotFoundError:
        raise SourceError(f"{_label(path)}: no such file or directory") from None
    except OSError as exc:
        raise SourceError(f"{_label(path)}: {_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        if is_maildir(target):
            return MaildirSource(target)
        return FolderSource(target)
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(f"{_label(path)}: not a file, folder or Maildir")
    try:
        with target.open("rb") as handle:
            head = handle.read(len(_BOM) + 5)
    except OSError as exc:
        raise SourceError(f"{_label(path)}: {_reason(exc)}") from None
    if head.removeprefix(_BOM).startswith(b"From ") and target.suffix.lower() != EML_SUFFIX:
        return MboxSource(target)
    return FileSource(target)


def is_maildir(path: Path) -> bool:
    # tmp/ is where deliveries are written; copies and backups often leave it out.
    return (path / "cur").is_dir() and (path / "new").is_dir()


class StdinSource(MailSource):
    """Exactly one message piped in, as an MTA or procmail delivers it."""

    kind = "stdin"

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__("<stdin>")
        self._stream = stream

    def plan(self) -> Plan:
        return Plan(messages=1, size=None)

    def __iter__(self) -> Iterator[Item]:
        try:
            raw = self._stream.read()
        except OSError as exc:
            yield ReadProblem(self.label, _reason(exc))
            return
        if not raw:
            yield ReadProblem(self.label, "standard input is empty: expected one message")
            return
        yield RawMail(raw, self.label, len(raw))


class FileSource(MailSource):
    """One file holding one message (.eml, or any RFC 822 file; even an Outlook .msg)."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        super().__init__(_label(path))
        self.path = path

    def plan(self) -> Plan:
        return Plan(messages=1, size=_size(self.path))

    def __iter__(self) -> Iterator[Item]:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            yield ReadProblem(self.label, _reason(exc))
            return
        # Even an empty file is kept: it was asked for by name or found where mail is, and
        # the parser records what is wrong with it rather than the import hiding it.
        yield RawMail(raw, self.label, len(raw))


class MboxSource(MailSource):
    """An mbox file, split on envelope lines while it streams past."""

    kind = "mbox"

    def __init__(self, path: Path, *, chunk_size: int = READ_CHUNK) -> None:
        super().__init__(_label(path))
        self.path = path
        self._chunk_size = chunk_size
        self.style = MboxStyle()

    def plan(self) -> Plan:
        return Plan(messages=None, size=_size(self.path))

    def __iter__(self) -> Iterator[Item]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            yield ReadProblem(self.label, _reason(exc))
            return
        index = 0
        with handle:
            try:
                for offset, raw, consumed in split_mbox(handle, self._chunk_size, self.style):
                    index += 1
                    label = f"{self.label}#{index} (byte {offset})"
                    yield RawMail(raw, label, consumed)
            except OSError as exc:
                yield ReadProblem(f"{self.label} after message {index}", _reason(exc))


def split_mbox(
    stream: BinaryIO, chunk_size: int = READ_CHUNK, style: MboxStyle | None = None
) -> Iterator[tuple[int, bytes, int]]:
    """(offset of the envelope line, message bytes, bytes consumed) for each message.

    A message ends where its `Content-Length` says when that is consistent (the next envelope
    line, or the end of the file, starts right there: mboxcl2, whose bodies are not quoted).
    Otherwise it ends at the next separator: a line starting with "From " that follows a
    blank line, as mboxo and mboxrd writers put one before every envelope line, dated or not
    (`From -`, `From 123@host`). Two guards against writers that do not quote "From " in
    bodies: a line without a date (a time and a year) is a separator only when a header
    line follows it, so "From here on..." after a paragraph does not cut a message in two;
    a dated line with a header line after it is a separator even without the blank line,
    which some writers leave out.

    The blank line a writer puts before the next envelope belongs to the mbox, not to the
    message, and is dropped. A UTF-8 byte order mark before the first envelope is skipped.
    `style` is filled in as the file is read: which kinds of separators it holds.
    """
    splitter = _MboxSplitter(stream, chunk_size, style if style is not None else MboxStyle())
    return splitter.messages()


@dataclass
class MboxStyle:
    """What separated an mbox's messages, counted while it is read; for the import report."""

    dated: int = 0
    """Envelope lines with a date, as classic mboxo / mboxrd writers make them."""
    undated: int = 0
    """Envelope lines without one (`From -`, `From 123@host`), taken on the blank line before."""
    content_length: int = 0
    """Messages whose end came from their Content-Length header (mboxcl2)."""
    content_length_ignored: int = 0
    """Content-Length headers that did not end where a message ends, so were not trusted."""

    @property
    def name(self) -> str:
        """mboxo/mboxrd (cannot be told apart), mboxcl2, or mixed; empty when nothing was read."""
        messages = self.dated + self.undated
        if not messages:
            return ""
        if self.content_length == 0:
            return "mboxo/mboxrd"
        if self.content_length == messages:
            return "mboxcl2"
        return "mixed"

    def as_dict(self) -> dict[str, int]:
        return {
            "dated": self.dated,
            "undated": self.undated,
            "content_length": self.content_length,
            "content_length_ignored": self.content_length_ignored,
        }


class _MboxSplitter:
    """The state of one pass over an mbox: a buffer that starts at the current envelope line.

    Only the current message (and one chunk ahead) is ever held, however large the file.
    """

    def __init__(self, stream: BinaryIO, chunk_size: int, style: MboxStyle) -> None:
        self.stream = stream
        self.chunk_size = max(1, chunk_size)
        self.style = style
        self.buf = bytearray()
        self.eof = False
        self.offset = 0
        """File offset of buf[0]."""
        self._next_dated: bool | None = None
        """Whether the separator just found carries a date, so it is not looked at twice."""

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk_size)
        if chunk:
            self.buf += chunk
            return True
        self.eof = True
        return False

    def _need(self, size: int) -> bool:
        """Whether buf holds `size` bytes, reading until it does or the file ends."""
        while len(self.buf) < size:
            if not self._more():
                return False
        return True

    def messages(self) -> Iterator[tuple[int, bytes, int]]:
        self._need(len(_BOM) + 5)
        if self.buf.startswith(_BOM + b"From "):
            del self.buf[: len(_BOM)]
            self.offset = len(_BOM)
        if not self.buf:
            return
        if not self.buf.startswith(b"From "):
            raise ValueError("not an mbox: the first line does not start with 'From '")
        carried = self.offset  # bytes consumed by nothing yet: a BOM, an empty message
        while self.buf:
            start = self._line_end(0)
            dated = (
                self._next_dated if self._next_dated is not None else _is_dated(self.buf[:start])
            )
            if dated:
                self.style.dated += 1
            else:
                self.style.undated += 1
            self._next_dated = None
            end, next_at = self._by_content_length(start)
            if end < 0:
                end, next_at = self._by_separator(start)
            with memoryview(self.buf) as view:
                raw = bytes(view[start:end])
            at = self.offset
            del self.buf[:next_at]
            self.offset += next_at
            if raw:
                yield at, raw, carried + next_at
                carried = 0
            else:
                carried += next_at

    def _line_end(self, pos: int) -> int:
        """The index after the newline that ends the line at `pos` (or the end of the file)."""
        while True:
            newline = self.buf.find(b"\n", pos)
            if newline >= 0:
                return newline + 1
            searched = len(self.buf)
            if not self._more():
                return len(self.buf)
            pos = searched

    def _by_content_length(self, start: int) -> tuple[int, int]:
        """(end of the message, start of the next envelope) by Content-Length, or (-1, -1)."""
        header_end = self._header_end(start)
        if header_end < 0:
            return -1, -1
        if (
            self.buf.find(b"ength", start, header_end) < 0
            and self.buf.find(b"ENGTH", start, header_end) < 0
        ):
            return -1, -1  # the common case, told cheaply: no Content-Length at all
        found = _CONTENT_LENGTH.findall(self.buf, start, header_end)
        if not found:
            return -1, -1
        end = header_end + int(found[0])
        gap = None
        if len(found) == 1 and int(found[0]) <= MAX_CONTENT_LENGTH:
            peeked = self._peek(end)
            if peeked is not None and _envelope_gap(*peeked) is not None:
                self._need(end + len(_CRLF_SEPARATOR))
                if len(self.buf) >= end:
                    ahead = bytes(self.buf[end : end + len(_CRLF_SEPARATOR)])
                    gap = _envelope_gap(ahead, self.eof)
        if gap == 0 and end > header_end and self.buf[end - 1] != 0x0A:
            gap = None  # "From " in the middle of a line is not where a message ends
        if gap is None:
            self.style.content_length_ignored += 1
            return -1, -1
        self.style.content_length += 1
        return end, end + gap

    def _peek(self, end: int) -> tuple[bytes, bool] | None:
        """(the bytes at buf index `end`, whether they reach the end of the file), or None
        when `end` is past the end of the file.

        On a file this reads with a seek, so a wrong Content-Length costs no memory: only a
        message whose length checks out is read in (and it is needed whole anyway).
        """
        size = len(_CRLF_SEPARATOR)
        if end + size > len(self.buf) and not self.eof:
            try:
                here = self.stream.tell()
                total = self.stream.seek(0, os.SEEK_END)
                at = here - len(self.buf) + end
                ahead = b""
                if at <= total:
                    self.stream.seek(at)
                    ahead = self.stream.read(size)
                self.stream.seek(here)
            except (OSError, ValueError, AttributeError):
                self._need(end + size)  # not seekable: read ahead instead
            else:
                if at > total:
                    return None
                return ahead, at + len(ahead) >= total
        if end > len(self.buf):
            return None
        return bytes(self.buf[end : end + size]), self.eof and end + size >= len(self.buf)

    def _header_end(self, start: int) -> int:
        """The index after the blank line that ends the headers at `start`, or -1."""
        pos = start - 1  # the envelope's newline: a message may start with its blank line
        while True:
            match = _HEADER_END.search(self.buf, pos, start + MAX_HEADER_SCAN)
            if match is not None:
                return match.end()
            if len(self.buf) >= start + MAX_HEADER_SCAN:
                return -1
            pos = max(start - 1, len(self.buf) - 3)
            if not self._more():
                return -1

    def _by_separator(self, start: int) -> tuple[int, int]:
        """(end of the message, start of the next envelope) at the next separator line."""
        scan = start - 1
        while True:
            found = self.buf.find(_SEPARATOR, scan)
            if found < 0:
                scan = max(start - 1, len(self.buf) - len(_SEPARATOR) + 1)
                if self._more():
                    continue
                return _trim(self.buf, start, len(self.buf)), len(self.buf)
            verdict = self._separator_at(found + 1, after_envelope=found == start - 1)
            if verdict is None:
                if self._more():
                    continue
                verdict = self._separator_at(found + 1, after_envelope=found == start - 1)
            if verdict:
                return _trim(self.buf, start, found + 1), found + 1
            scan = found + 1

    def _separator_at(self, line: int, *, after_envelope: bool) -> bool | None:
        """Whether the "From " line at `line` is a separator; None when more bytes would tell."""
        buf = self.buf
        line_end = buf.find(b"\n", line, line + MAX_ENVELOPE_LINE + 1)
        if line_end < 0:
            if len(buf) - line > MAX_ENVELOPE_LINE:
                return False
            return None if not self.eof else False
        blank_before = not after_envelope and (
            buf[line - 2 : line] == b"\n\n" or buf[line - 3 : line] == b"\n\r\n"
        )
        dated = _is_dated(buf[line:line_end])
        if not (blank_before or dated):
            return False
        if not (blank_before and dated):
            next_line = line_end + 1
            head = buf[next_line : next_line + _HEADER_NAME_SCAN]
            if _HEADER_FIELD.match(head) is None:
                if b"\n" not in head and len(head) < _HEADER_NAME_SCAN and not self.eof:
                    return None
                return False
        self._next_dated = dated
        return True


def _envelope_gap(ahead: bytes, at_eof: bool) -> int | None:
    """Bytes from a Content-Length's end to the next envelope line (or past the last newline
    of the file), or None when neither is there: then the length is wrong."""
    if ahead.startswith(b"From "):
        return 0
    if ahead.startswith(b"\nFrom "):
        return 1
    if ahead.startswith(_CRLF_SEPARATOR):
        return 2
    if at_eof and ahead in (b"", b"\n", b"\r\n"):
        return len(ahead)
    return None


def _trim(buf: bytearray, start: int, end: int) -> int:
    """`end` less the blank line an mbox writer puts before the next envelope line."""
    if end - 4 >= start and buf[end - 4 : end] == b"\r\n\r\n":
        return end - 2
    if end - 2 >= start and buf[end - 2 : end] == b"\n\n":
        return end - 1
    return end


def _is_dated(line: bytes | bytearray) -> bool:
    return (
        len(line) <= MAX_ENVELOPE_LINE
        and _ENVELOPE_TIME.search(line) is not None
        and _ENVELOPE_YEAR.search(line) is not None
    )


class MaildirSource(MailSource):
    """A Maildir: the messages in new/ and cur/, oldest unique name first.

    Maildir names start with the delivery time, so name order is close to arrival order,
    which is the order threading wants (a reply after the message it answers).
    """

    kind = "maildir"

    def __init__(self, path: Path) -> None:
        super().__init__(_label(path))
        self.path = path

    def _names(self) -> tuple[list[tuple[str, str]], list[ReadProblem]]:
        names: list[tuple[str, str]] = []
        problems: list[ReadProblem] = []
        for sub in ("new", "cur"):
            try:
                with os.scandir(self.path / sub) as entries:
                    names.extend(
                        (entry.name, sub)
                        for entry in entries
                        if not entry.name.startswith(".") and entry.is_file()
                    )
            except OSError as exc:
                problems.append(ReadProblem(_label(self.path / sub), _reason(exc)))
        names.sort()
        return names, problems

    def plan(self) -> Plan:
        names, _ = self._names()
        return Plan(
            messages=len(names),
            size=sum(_size(self.path / sub / name) or 0 for name, sub in names),
        )

    def __iter__(self) -> Iterator[Item]:
        names, problems = self._names()
        yield from problems
        for name, sub in names:
            path = self.path / sub / name
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                # A mail client moved it to cur/ or changed its flags (renamed it) meanwhile.
                moved = self._find_moved(name)
                if moved is None:
                    continue  # deleted since the listing: nothing left to import
                path = moved
                try:
                    raw = path.read_bytes()
                except OSError as exc:
                    yield ReadProblem(_label(path), _reason(exc))
                    continue
            except OSError as exc:
                yield ReadProblem(_label(path), _reason(exc))
                continue
            yield RawMail(raw, _label(path), len(raw))

    def _find_moved(self, name: str) -> Path | None:
        unique = name.split(":", 1)[0]
        try:
            with os.scandir(self.path / "cur") as entries:
                for entry in entries:
                    if entry.name == unique or entry.name.startswith(unique + ":"):
                        return Path(entry.path)
        except OSError:
            return None
        return None


class FolderSource(MailSource):
    """A folder of .eml files, searched recursively; Maildirs inside it are read as Maildirs."""

    kind = "folder"

    def __init__(self, path: Path) -> None:
        super().__init__(_label(path))
        self.path = path

    def _walk(self) -> Iterator[Path | MaildirSource | ReadProblem]:
        problems: list[ReadProblem] = []

        def on_error(exc: OSError) -> None:
            where = _label(exc.filename) if exc.filename else self.label
            problems.append(ReadProblem(where, _reason(exc)))

        for top, dirs, files in os.walk(self.path, onerror=on_error):
            yield from problems
            problems.clear()
            dirs.sort()
            maildirs = [name for name in dirs if is_maildir(Path(top) / name)]
            dirs[:] = [name for name in dirs if name not in maildirs]
            for name in sorted(files):
                if name.lower().endswith(EML_SUFFIX) and not name.startswith("."):
                    yield Path(top) / name
            for name in maildirs:
                yield MaildirSource(Path(top) / name)
        yield from problems

    def plan(self) -> Plan:
        messages = 0
        size = 0
        for found in self._walk():
            if isinstance(found, Path):
                messages += 1
                size += _size(found) or 0
            elif isinstance(found, MaildirSource):
                inner = found.plan()
                messages += inner.messages or 0
                size += inner.size or 0
        return Plan(messages=messages, size=size)

    def __iter__(self) -> Iterator[Item]:
        for found in self._walk():
            if isinstance(found, Path):
                yield from FileSource(found)
            elif isinstance(found, MaildirSource):
                yield from found
            else:
                yield found


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _label(path: str | os.PathLike[str]) -> str:
    # A file name that is not UTF-8 would make printing the summary (or its JSON) fail.
    return os.fsencode(path).decode("utf-8", "replace")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
