"""`make bench` must keep working: a short run of a few scenarios against a real service,
floor and wrk, every verdict read back from PostgreSQL and Redis correct."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_benchmark_run_is_correct_and_measures_both(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--seconds",
            "1",
            "--only",
            "a,c,d",
            "--rounds",
            "2",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WRONG" not in done.stdout, done.stdout
    results = {r["name"]: r for r in json.loads(out.read_text())}
    floors = [r for n, r in results.items() if n.startswith("a hold burst: floor (bare hold)")]
    services = [r for n, r in results.items() if n.startswith("a hold burst: service")]
    assert len(floors) == len(services) == 2  # two rounds, taking turns
    for floor, service in zip(floors, services, strict=True):
        assert floor["statuses"].get("201", 0) > 0
        assert service["statuses"].get("201", 0) > 0
        assert service["verdict"].startswith("CORRECT")
    assert any("service / floor" in note for note in services[-1]["notes"])
    # The confirms take turns with their floor too; the last round's carries the verdict.
    confirms = [r for n, r in results.items() if n.startswith("c confirms, round")]
    assert len(confirms) == 2
    assert confirms[-1]["verdict"].startswith("CORRECT"), confirms[-1]
    assert all(r["statuses"].get("201", 0) > 0 for r in confirms)
    assert set(confirms[0]["cpu_split"]) == {"service", "PostgreSQL", "Redis"}
    for name in ("d reads: seat list (200 seats)", "d reads: availability", "d reads: open count"):
        assert results[name]["verdict"].startswith("CORRECT"), results[name]
    assert "start to ready" in done.stdout
    assert "resident memory" in done.stdout
