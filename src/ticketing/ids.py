"""Ids that name their event: the event id's first 64 bits, then 62 random ones (and RFC
4122's variant bits).

A hold or a waiting-room entry is looked up by its id alone (`POST /holds/{holdId}/
reservation`, `GET /queue/{entryId}`), but everything about it is kept in its
event's keys. An id that begins as its event's does lets a worker that knows the event go
straight there, with no index to read first. The prefix is only a guess (two events may
share one, and ids made before this scheme have none): the caller checks the thing is in
the event it guessed, and reads the index when it is not.

These ids are not secrets: only their owner and admins may act on them, and their 62 random
bits cannot be guessed anyway.
"""

from __future__ import annotations

import secrets
from uuid import UUID

PREFIX_HEX = 16  # the event id's first 64 bits, as hex
KEPT = 50_000  # events a table remembers before it starts again


_VARIANT = 0b10 << 62  # RFC 4122's variant, in the top bits of the second half
_RANDOM = (1 << 62) - 1


def scoped_id(event_id: UUID) -> UUID:
    """A new id naming `event_id`: still a version-4 UUID of RFC 4122's variant (the version
    comes with the event's half), so a client that checks either accepts it."""
    tail = _VARIANT | (secrets.randbits(64) & _RANDOM)
    return UUID(event_id.hex[:PREFIX_HEX] + f"{tail:016x}")


def prefix_of(some_id: UUID) -> str:
    return some_id.hex[:PREFIX_HEX]


class EventsByPrefix:
    """Events this process has met, by their ids' prefix: the event a scoped id names, when
    it is one of them. Bounded: once full it forgets them all and learns again."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._events: dict[str, UUID] = {}

    def learn(self, event_id: UUID) -> None:
        key = prefix_of(event_id)
        if self._events.get(key) == event_id:
            return
        if len(self._events) >= self._kept:
            self._events.clear()
        self._events[key] = event_id

    def guess(self, some_id: UUID) -> UUID | None:
        return self._events.get(prefix_of(some_id))
