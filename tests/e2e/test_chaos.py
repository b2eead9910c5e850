"""`make chaos` in the suite, shorter: each fault during an onsale on a scratch stack, judged
by PostgreSQL afterwards (bench/chaos.py says how)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from bench.chaos import FAULTS, run_fault


@pytest.mark.parametrize("fault", FAULTS)
async def test_an_onsale_survives_the_fault(fault: str) -> None:
    report = await run_fault(fault, seconds=6.0, fans=30)
    summary = asdict(report)
    assert report.lost == 0, summary  # every 201 is a reservation
    assert report.doubled == 0, summary  # no seat reserved twice
    assert report.server_errors == 0, summary  # 503s only, never a 500
    assert report.stuck_seats == 0, summary  # nothing left held or out of step
    assert report.audit_problems == [], summary  # PostgreSQL and Redis agree, seat by seat
    assert report.recovery_seconds is not None, summary  # it came back with no hand work
    assert report.confirmed > 0, summary  # the onsale really ran
    assert report.workers_after == 2, summary  # a killed worker is replaced
    if fault != "worker-kill":
        assert report.statuses.get("503", 0) > 0, summary  # the fault was really felt
