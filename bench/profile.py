"""py-spy on every worker of a server while a scenario runs, summed into the top items."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.service import Server, worker_pids

PY_SPY = Path(sys.executable).parent / "py-spy"
_LINE = re.compile(r"^(.*) (\d+)$")
_SITE = re.compile(r"/(?:site-packages|lib/python3\.\d+)/")


@contextmanager
def profiled(server: Server, out: Path, seconds: float) -> Iterator[list[Path]]:
    """Sample each worker (idle frames left out) for `seconds`; yields the raw files."""
    files: list[Path] = []
    procs = []
    for pid in worker_pids(server):
        target = out.with_name(f"{out.stem}-{pid}.txt")
        files.append(target)
        procs.append(
            subprocess.Popen(
                [
                    str(PY_SPY),
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(round(seconds)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(target),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        yield files
    finally:
        for proc in procs:
            proc.wait(timeout=seconds + 30)


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    tail = _SITE.split(path)[-1] if _SITE.search(path) else path.split("/src/")[-1]
    return f"{name} ({tail})"


def top(files: list[Path], n: int = 12) -> list[str]:
    """The functions that took the most samples: own time, and time including callees."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            match = _LINE.match(line)
            if not match:
                continue
            frames = [_short(f) for f in match.group(1).split(";") if " (" in f]
            count = int(match.group(2))
            samples += count
            if frames:
                own[frames[-1]] += count
            for frame in set(frames):
                total[frame] += count
    if not samples:
        return ["(no samples: is py-spy allowed to attach?)"]
    lines = [f"{samples} samples; own time:"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(n)]
    lines.append("including callees (the service's own code):")
    ours = [(f, c) for f, c in total.most_common() if "(ticketing/" in f]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in ours[:n]]
    return lines
