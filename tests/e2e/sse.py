"""A small Server-Sent Events reader over httpx, and a client-side copy of the seat statuses
that applies the stream's events the way a browser would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Frame:
    event: str
    id: str | None
    data: Any


class Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, within: float = 5.0) -> Frame:
        event, ident, data = "message", None, []
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line == "":
                    if data:
                        return Frame(event, ident, json.loads("\n".join(data)))
                    event, ident, data = "message", None, []
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value
                elif name == "id":
                    ident = value
                elif name == "data":
                    data.append(value)
        raise EOFError("the stream ended")

    async def next_of(self, *events: str, within: float = 5.0) -> Frame:
        """The next frame of one of `events`, skipping heartbeats."""
        while True:
            frame = await self.next(within)
            if frame.event in events:
                return frame
            assert frame.event == "heartbeat", frame


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, event_id: str, last_event_id: str | None = None
) -> AsyncIterator[Stream]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with client.stream("GET", f"/events/{event_id}/stream", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)


@dataclass
class Seats:
    """The statuses a subscriber believes in: a snapshot, then every change applied in order."""

    sequence: int = -1
    status: dict[str, str] = field(default_factory=dict)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    snapshots: int = 0

    def take(self, frame: Frame) -> None:
        if frame.event == "snapshot":
            self.snapshots += 1
            self.sequence = frame.data["sequence"]
            self.status = {s["id"]: s["status"] for s in frame.data["seats"]}
        elif frame.event == "seats":
            seq = frame.data["sequence"]
            if seq != self.sequence + 1:
                self.gaps.append((self.sequence, seq))
            self.sequence = seq
            for seat in frame.data["seatIds"]:
                self.status[seat] = frame.data["status"]

    def counts(self) -> dict[str, int]:
        out = {"OPEN": 0, "ON_HOLD": 0, "RESERVED": 0}
        for status in self.status.values():
            out[status] += 1
        return out
