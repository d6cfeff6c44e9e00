"""Reading a journal from its end: only the events after the run.json a reader holds.

A reader reads run.json first, hashes its bytes, then scans the journal backwards for the
latest event carrying that digest (the ``checkpoint`` or operation written with that
run.json, or the ``journal_started`` header). The events after it are exactly what run.json
lacks, whatever a writer did in between (a checkpoint renamed after the reader read
run.json, events appended after it): so a reader never needs the lock and always sees a
state the run really passed through. The scan costs O(events since that checkpoint) plus
the first line (the header), not O(journal).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import attrs

from ..errors import JournalError
from .journal import DIGEST_KINDS, Event, open_for_reading, parse_line

__all__ = ["Scan", "scan_journal"]

_CHUNK = 1 << 16


@attrs.frozen
class Scan:
    """What a backward scan found.

    Attributes:
        header: The ``journal_started`` event on the first line, or None (an empty or
            pre-header journal).
        base: The latest event whose digest is the run.json's, or None.
        tail: The events after ``base`` in order; with no ``base``, every event.
        last_seq: The last event's seq (-1 for an empty journal).
        torn: Whether the last line was torn (and ignored).
        digests: Whether the scan met any event carrying a digest (False only for an
            empty journal or one written before digests existed).
        size: The journal's size in bytes when scanned.
        offsets: The byte offset of each event of ``tail`` (for messages).
    """

    header: Event | None
    base: Event | None
    tail: list[Event]
    last_seq: int
    torn: bool
    digests: bool
    size: int
    offsets: list[int] = attrs.field(factory=list)

    def where(self, path: str | os.PathLike[str], event_index: int) -> str:
        """``path: line N`` of ``tail[event_index]`` (counts newlines: for messages only)."""
        file = os.fspath(path)
        try:
            fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return f"{file}: seq {self.tail[event_index].seq}"
        try:
            return _where(file, fd, self.offsets[event_index])
        finally:
            os.close(fd)


def _lines_backward(fd: int, size: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` of each complete line, last first (the torn tail excluded)."""
    pos = size
    rest = b""
    first = True
    while pos > 0:
        start = max(0, pos - _CHUNK)
        buf = os.pread(fd, pos - start, start) + rest
        pieces = buf.split(b"\n")
        rest = pieces[0]
        offset = start + len(buf)
        for piece in reversed(pieces[1:]):
            offset -= len(piece) + 1
            if first:  # the text after the last newline: empty, or a torn line
                first = False
                continue
            yield offset + 1, piece
        pos = start
    if first:  # no newline at all: the only text is torn
        return
    if rest:
        yield 0, rest


def _first_line(fd: int, size: int) -> bytes | None:
    buf = b""
    pos = 0
    while pos < size:
        chunk = os.pread(fd, min(_CHUNK, size - pos), pos)
        i = chunk.find(b"\n")
        if i >= 0:
            return buf + chunk[:i]
        buf += chunk
        pos += len(chunk)
    return None


def _where(path: str, fd: int, offset: int) -> str:
    """``path: line N`` for the line at ``offset`` (counts newlines: on errors only)."""
    n = 1
    pos = 0
    while pos < offset:
        chunk = os.pread(fd, min(_CHUNK, offset - pos), pos)
        n += chunk.count(b"\n")
        pos += len(chunk)
    return f"{path}: line {n}"


def scan_journal(path: str | os.PathLike[str], digest: str | None) -> Scan:
    """Scan a journal backwards for the latest event carrying ``digest``.

    Args:
        path: The journal (a missing file is an empty journal).
        digest: The SHA-256 (hex) of the run.json bytes the caller read, or None to read
            every event.

    Returns:
        The scan.

    Raises:
        JournalError: The path is not a regular file, or a line read is not a valid
            event (the message names the line).
    """
    file = os.fspath(path)
    fd = open_for_reading(file)
    if fd is None:
        return Scan(None, None, [], -1, False, False, 0, [])
    try:
        size = os.fstat(fd).st_size
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        newest_first: list[Event] = []
        offsets: list[int] = []
        base = None
        digests = False
        at_start = False
        for offset, line in _lines_backward(fd, size):
            try:
                event = parse_line(line, file)
            except JournalError:
                parse_line(line, _where(file, fd, offset))  # raises, naming the line
                raise
            if event.kind in DIGEST_KINDS and event.digest is not None:
                digests = True
                if digest is not None and event.digest == digest:
                    base = event
                    at_start = offset == 0
                    break
            newest_first.append(event)
            offsets.append(offset)
        header = None
        if base is not None and at_start:
            header = base
        elif base is None:
            header = newest_first[-1] if newest_first else None
        else:
            line0 = _first_line(fd, size)
            if line0 is not None:
                header = parse_line(line0, f"{file}: line 1")
        if header is not None and header.kind != "journal_started":
            header = None
        newest_first.reverse()
        offsets.reverse()
        last = newest_first[-1].seq if newest_first else base.seq if base is not None else -1
        return Scan(header, base, newest_first, last, torn, digests, size, offsets)
    finally:
        os.close(fd)
