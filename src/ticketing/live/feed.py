"""Live availability for one worker: a view per watched event, fed by Redis pub/sub.

Every hold script publishes its change on the event's channel (scripts/_lib.lua), so a
change made by any worker on any host reaches every view. A worker subscribes to an event's
channel when someone first reads its availability or opens its stream, and drops it after a
minute with neither.

A view is served only while it is known to be current: a poll every quarter second compares
its sequence with Redis's. A change that never arrived (pub/sub dropped while Redis
restarted, say) shows as a gap and the view is loaded afresh; a view that could not be
checked for a second is loaded afresh before it is read, so readers never see more than a
second of staleness, and get a 503 rather than old data when Redis is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from uuid import UUID

from glide import (
    GlideClient,
    GlideClientConfiguration,
    GlideClusterClient,
    GlideClusterClientConfiguration,
    PubSubMsg,
)

from ticketing.cache.redis import Redis
from ticketing.errors import DependencyUnavailable, NotFound
from ticketing.holds.models import EventUnknown
from ticketing.holds.service import HoldService
from ticketing.live.view import Change, EventView, Listener, decode_change

log = logging.getLogger("ticketing.live")

FRESH_SECONDS = 1.0  # a view older than this is loaded again before it is read
POLL_SECONDS = 0.25
IDLE_SECONDS = 60.0


class LiveFeed:
    def __init__(
        self,
        redis: Redis,
        holds: HoldService,
        *,
        poll_seconds: float = POLL_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._redis = redis
        self._holds = holds
        self._poll_seconds = poll_seconds
        self._idle_seconds = idle_seconds
        self._views: dict[UUID, EventView] = {}
        self._by_channel: dict[bytes, UUID] = {}
        self._loading: dict[UUID, asyncio.Future[EventView]] = {}
        self._early: dict[UUID, list[Change]] = {}  # changes that came while loading
        self._client: GlideClient | GlideClusterClient | None = None
        self._client_lock = asyncio.Lock()
        self._resyncs: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self.draining = False

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._watchdog = asyncio.create_task(self._watch())

    def drain(self) -> None:
        """The server is stopping: end every open stream now (clients reconnect, to another
        server), and open no more, so that shutdown need not wait for streams that never end.
        """
        self.draining = True
        for view in self._views.values():
            view.end()

    async def close(self) -> None:
        tasks = [t for t in (self._watchdog, *self._resyncs) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for view in self._views.values():
            view.end()
        self._views.clear()
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.close()

    @property
    def subscribers(self) -> int:
        return sum(len(v.listeners) for v in self._views.values())

    async def _pubsub(self) -> GlideClient | GlideClusterClient:
        if self._client is not None:
            return self._client
        async with self._client_lock:
            if self._client is None:
                config = self._redis.config()
                try:
                    if isinstance(config, GlideClusterClientConfiguration):
                        config.pubsub_subscriptions = (
                            GlideClusterClientConfiguration.PubSubSubscriptions(
                                channels_and_patterns={}, callback=self._received, context=None
                            )
                        )
                        self._client = await GlideClusterClient.create(config)
                    else:
                        config.pubsub_subscriptions = GlideClientConfiguration.PubSubSubscriptions(
                            channels_and_patterns={}, callback=self._received, context=None
                        )
                        self._client = await GlideClient.create(config)
                except Exception as exc:
                    log.warning("pub/sub connect failed: %s: %s", type(exc).__name__, exc)
                    raise DependencyUnavailable("redis", self._redis.retry_after) from exc
            return self._client

    # --- reading -------------------------------------------------------------------------

    async def view(self, event_id: UUID) -> EventView:
        """The event's current view; NotFound for an unknown event, 503 without Redis."""
        view = self._views.get(event_id)
        if view is not None and time.monotonic() - view.verified_at <= FRESH_SECONDS:
            view.last_read = time.monotonic()
            return view
        return await self._load(event_id)

    async def _load(self, event_id: UUID) -> EventView:
        pending = self._loading.get(event_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[EventView] = asyncio.get_running_loop().create_future()
        self._loading[event_id] = future
        try:
            view = await self._load_now(event_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(view)
            return view
        finally:
            del self._loading[event_id]

    async def _load_now(self, event_id: UUID) -> EventView:
        name = self._holds.channel(event_id)
        self._early[event_id] = []
        try:
            client = await self._pubsub()
            try:
                await client.subscribe({name}, timeout_ms=self._redis.timeout_ms)
            except Exception as exc:
                raise DependencyUnavailable("redis", self._redis.retry_after) from exc
            self._by_channel[name.encode()] = event_id
            started = time.monotonic()
            try:
                status = await self._holds.status(event_id)
                order = await self._holds.seat_order(event_id)
            except EventUnknown as exc:
                self._forget(event_id)
                raise NotFound.of("event", event_id) from exc
            view = self._views.get(event_id)
            if view is None:
                view = EventView(event_id, status, order)
                self._views[event_id] = view
            else:
                view.reset(status, order)
            for change in self._early[event_id]:
                if not view.apply(change):
                    self._resync(event_id)
                    break
            view.verified_at = started
            view.last_read = time.monotonic()
            view.polled = None
            return view
        finally:
            del self._early[event_id]

    def listen(self, view: EventView, last_event_id: str | None) -> Listener:
        """A new stream on `view`: from where `last_event_id` left off, else a snapshot."""
        listener = Listener()
        frames = None
        if last_event_id:
            epoch, _, seq = last_event_id.strip().rpartition("-")
            if seq.isdigit():
                frames = view.since(epoch, int(seq))
        if frames is None:
            frames = [view.snapshot_frame()]
        for frame in frames:
            listener.offer(frame)
        view.listeners.add(listener)
        return listener

    def leave(self, view: EventView, listener: Listener) -> None:
        view.listeners.discard(listener)
        view.last_read = time.monotonic()

    # --- changes -------------------------------------------------------------------------

    def _received(self, message: PubSubMsg, _context: Any) -> None:
        name = message.channel if isinstance(message.channel, bytes) else message.channel.encode()
        event_id = self._by_channel.get(name)
        if event_id is None:
            return
        raw = message.message
        try:
            change = decode_change(raw if isinstance(raw, bytes) else raw.encode())
        except Exception:
            log.exception("undecodable change on %s", name)
            return
        early = self._early.get(event_id)
        if early is not None:
            early.append(change)
            return
        view = self._views.get(event_id)
        if view is not None and not view.apply(change):
            self._resync(event_id)

    def _resync(self, event_id: UUID) -> None:
        if event_id in self._loading:
            return

        async def again() -> None:
            try:
                await self._load(event_id)
            except NotFound:
                pass
            except DependencyUnavailable:
                view = self._views.get(event_id)
                if view is not None:
                    view.verified_at = 0.0  # the watchdog tries again

        task = asyncio.create_task(again())
        self._resyncs.add(task)
        task.add_done_callback(self._resyncs.discard)

    def _forget(self, event_id: UUID) -> None:
        view = self._views.pop(event_id, None)
        if view is not None:
            view.end()
        name = self._holds.channel(event_id)
        self._by_channel.pop(name.encode(), None)
        if self._client is not None:
            client = self._client

            async def unsubscribe() -> None:
                with contextlib.suppress(Exception):
                    await client.unsubscribe_lazy({name})

            task = asyncio.create_task(unsubscribe())
            self._resyncs.add(task)
            task.add_done_callback(self._resyncs.discard)

    # --- keeping views honest ------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            now = time.monotonic()
            for event_id, view in list(self._views.items()):
                if not view.listeners and now - view.last_read > self._idle_seconds:
                    self._forget(event_id)
            views = [v for v in self._views.values() if v.event_id not in self._loading]
            if views:
                await asyncio.gather(*(self._check(v) for v in views))

    async def _check(self, view: EventView) -> None:
        """Confirm the view is current, or load it afresh when a change went missing."""
        started = time.monotonic()
        seen = view.sequence  # Redis's counter can only be at or past this now
        try:
            epoch, seq = await self._holds.sequence(view.event_id)
        except DependencyUnavailable:
            return  # not verified: readers load it (and get a 503) until Redis is back
        polled = (epoch, seq, started)
        if polled[0] == view.epoch and polled[1] < seen:
            # Redis is behind a change this view had seen before the poll was even sent: it
            # went back in time (restarted from a file missing its last writes).
            self._resync(view.event_id)
            return
        if polled[0] == view.epoch and polled[1] <= view.sequence:
            view.verified_at, view.polled = started, None
            return
        # Behind Redis: under load the next changes are usually on their way. The view was
        # current at the last poll if it has caught up with what that poll saw.
        previous = view.polled
        if previous is not None:
            if previous[0] != view.epoch or previous[1] > view.sequence:
                self._resync(view.event_id)  # a change never arrived
                return
            view.verified_at = previous[2]
        view.polled = polled
