"""Many stream subscribers on one event, as light as a client can be: raw sockets that count
the `seats` frames they receive. `python -m bench.watchers HOST PORT EVENT_ID N`; runs until
SIGTERM or SIGINT, then prints `WATCHERS {"connected": ..., "frames": ...}`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

MARK = b"event: seats\n"


async def watch(
    host: str, port: int, event_id: str, counts: list[int], ready: asyncio.Event
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /events/{event_id}/stream HTTP/1.1\r\nHost: {host}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode(errors="replace"))
    counts[0] += 1
    if counts[0] == counts[2]:
        ready.set()
    tail = b""
    while chunk := await reader.read(65536):
        data = tail + chunk
        counts[1] += data.count(MARK)
        tail = data[-(len(MARK) - 1) :]
        # A mark split across reads is counted once: the tail is shorter than a whole mark.


async def main(host: str, port: int, event_id: str, n: int) -> None:
    counts = [0, 0, n]  # connected, frames, wanted
    ready = asyncio.Event()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = []
    for _ in range(n):
        tasks.append(asyncio.create_task(watch(host, port, event_id, counts, ready)))
        await asyncio.sleep(0)  # a gentle ramp: the server accepts as they come
    try:
        async with asyncio.timeout(60):
            await ready.wait()
    except TimeoutError:
        failed = [t.exception() for t in tasks if t.done() and not t.cancelled()]
        print(f"WATCHERS NOT READY: {counts[0]} of {n} connected; {failed[:3]}", flush=True)
        raise SystemExit(1) from None
    print("WATCHERS READY", flush=True)
    await stop.wait()
    broken = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception())
    for task in tasks:
        task.cancel()
    print("WATCHERS " + json.dumps({"connected": counts[0], "frames": counts[1], "failed": broken}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
