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

_ENVELOPE_TIME = re.compile(rb"\b\d{1,2}:\d{2}\b")
_ENVELOPE_YEAR = re.compile(rb"\b\d{4}\b")
_SEPARATOR = b"\nFrom "


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
            head = handle.read(5)
    except OSError as exc:
        raise SourceError(f"{_label(path)}: {_reason(exc)}") from None
    if head == b"From " and target.suffix.lower() != EML_SUFFIX:
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
                for offset, raw, consumed in split_mbox(handle, self._chunk_size):
                    index += 1
                    label = f"{self.label}#{index} (byte {offset})"
                    yield RawMail(raw, label, consumed)
            except OSError as exc:
                yield ReadProblem(f"{self.label} after message {index}", _reason(exc))


def split_mbox(stream: BinaryIO, chunk_size: int = READ_CHUNK) -> Iterator[tuple[int, bytes, int]]:
    """(offset of the envelope line, message bytes, bytes consumed) for each message.

    A separator is a line starting with "From " that carries a time and a year, as every
    mbox writer's envelope line does; that keeps an unquoted "From here on..." in a body from
    cutting a message in two. The blank line a writer puts before the next envelope belongs
    to the mbox, not to the message, and is dropped.
    """
    first = stream.readline(MAX_ENVELOPE_LINE)
    if not first:
        return
    if not first.startswith(b"From "):
        raise ValueError("not an mbox: the first line does not start with 'From '")
    if not first.endswith(b"\n"):
        first += stream.readline()
    envelope_at = 0
    envelope_len = len(first)
    # buf[0] is the newline that ended the envelope line, so a separator straight after an
    # envelope is found by the same search as any other; the message is buf[1:].
    buf = bytearray(b"\n")
    scan = 0
    eof = False
    while True:
        found = buf.find(_SEPARATOR, scan)
        line_end = buf.find(b"\n", found + 1) if found >= 0 else -1
        if found < 0 or (line_end < 0 and not eof):
            if found >= 0 and len(buf) - found > MAX_ENVELOPE_LINE + 1:
                scan = found + 1
                continue
            if eof:
                break
            scan = found if found >= 0 else max(0, len(buf) - len(_SEPARATOR) + 1)
            chunk = stream.read(chunk_size)
            if chunk:
                buf += chunk
            else:
                eof = True
            continue
        end = line_end + 1 if line_end >= 0 else len(buf)
        if not _is_envelope(buf[found + 1 : end]):
            scan = found + 1
            continue
        raw = _message(buf, found + 1)
        if raw:
            yield envelope_at, raw, envelope_len + found
        envelope_at += envelope_len + found
        envelope_len = end - found - 1
        del buf[: end - 1]
        buf[0] = 0x0A
        scan = 0
    raw = _message(buf, len(buf))
    if raw:
        yield envelope_at, raw, envelope_len + len(buf) - 1


def _message(buf: bytearray, end: int) -> bytes:
    if end - 4 >= 1 and buf[end - 4 : end] == b"\r\n\r\n":
        end -= 2
    elif end - 2 >= 1 and buf[end - 2 : end] == b"\n\n":
        end -= 1
    with memoryview(buf) as view:
        return bytes(view[1:end])


def _is_envelope(line: bytes | bytearray) -> bool:
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
