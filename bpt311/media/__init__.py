"""Checking resident uploads by their content and keeping only clean copies: photos
re-encoded from their pixels alone (:mod:`.photos`, the place a phone wrote in them read
first by :mod:`.gps`), videos copied into a fresh container without metadata
(:mod:`.video`). Here: the refusal every check raises and what they all use to say why."""

from __future__ import annotations

MB = 1024 * 1024
NAME_LIMIT = 80
CHUNK = MB


class UploadRefused(Exception):
    """An upload we will not keep; str(exc) is a message for the resident that names the file
    and says why."""


def display_name(filename: str | None, fallback: str) -> str:
    """The file's own name, without any folders, fit to show back to the resident."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    if len(name) > NAME_LIMIT:
        name = name[: NAME_LIMIT - 1] + "…"
    return name or fallback


def read_at_most(stream, limit: int) -> bytes:
    """Up to limit bytes, reading again when a stream returns short reads."""
    parts = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def size_words(size: int) -> str:
    if size >= MB:
        return f"{round(size / MB, 1):g} MB"
    if size >= 1024:
        return f"{round(size / 1024, 1):g} KB"
    return f"{size} bytes"
