"""A message's content fingerprint: equal for copies of one message, different for another.

A Message-ID alone does not say two messages are the same: broken senders reuse one id for
different mail, and the second copy must not be thrown away as a duplicate. Raw bytes do not
say it either: the copy of one message delivered to two of our mailboxes, kept in an mbox and
in a Maildir, or fetched again after the server rewrote its line ends, differs in the trace
headers each hop adds (Received, Delivered-To, Return-Path, Status…), in the mbox envelope
line and `>From ` quoting, and in whitespace. So the fingerprint covers what the sender wrote
(the originator and MIME headers and the body) with whitespace left out, and nothing that
the way the copy travelled added.
"""

from __future__ import annotations

import hashlib
import re

# What the author's client wrote; everything else in a header block is added on the way.
_KEPT = re.compile(
    rb"^(from|sender|reply-to|to|cc|subject|date|message-id|in-reply-to|references"
    rb"|mime-version|content-type|content-transfer-encoding|content-disposition)"
    rb"[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)",
    re.I | re.M,
)
_FROM_QUOTING = re.compile(rb"^>+(?=From )", re.M)
_WHITESPACE = b" \t\r\n\x0b\x0c"
_MAX_HEADER = 256 * 1024


def content_fingerprint(raw: bytes) -> str:
    """A hex SHA-256 over the originator headers and the body, whitespace left out.

    Leaving whitespace out (rather than collapsing it) also equates copies re-wrapped by a
    gateway; a message that differs from another only in spacing is the same message.
    """
    lf, crlf = raw.find(b"\n\n", 0, _MAX_HEADER), raw.find(b"\n\r\n", 0, _MAX_HEADER)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        head, body = raw[:crlf], raw[crlf + 3 :]
    elif lf >= 0:
        head, body = raw[:lf], raw[lf + 2 :]
    else:
        head, body = raw[:_MAX_HEADER], raw[_MAX_HEADER:]
    digest = hashlib.sha256()
    for match in _KEPT.finditer(head):
        digest.update(b"\n" + match.group(1).lower() + b":")
        digest.update(match.group(2).translate(None, _WHITESPACE))
    digest.update(b"\n\n")
    if b">From " in body:
        body = _FROM_QUOTING.sub(b"", body)
    digest.update(body.translate(None, _WHITESPACE))
    return digest.hexdigest()
