"""The seat map in a real browser: headless Chromium (Debian's package) driven by Playwright.

`make test` installs Chromium when it is missing; without it these tests fail, they do not
skip, so a machine that cannot show the page cannot pass the suite.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import make_customer, make_event, seats_of

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    path = shutil.which("chromium")
    assert path, "Chromium is missing: `make test` installs Debian's chromium package"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, served: str) -> AsyncIterator[Page]:
    # Predicates are given as functions: the page's Content-Security-Policy forbids eval.
    context = await browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    opened = await context.new_page()
    opened.requested = []  # type: ignore[attr-defined]
    opened.on("request", lambda r: opened.requested.append(r.url))  # type: ignore[attr-defined]
    yield opened
    await context.close()


async def _colour(page: Page, seat_id: str) -> str:
    colour: str = await page.eval_on_selector(
        f'[data-seat="{seat_id}"]', "n => getComputedStyle(n).backgroundColor"
    )
    return colour


async def _legend(page: Page) -> dict[str, int]:
    counts: dict[str, Any] = await page.evaluate(
        """() => Object.fromEntries(["OPEN", "ON_HOLD", "RESERVED"].map(
               s => [s, Number(document.getElementById("c-" + s).textContent)]))"""
    )
    return {k: int(v) for k, v in counts.items()}


async def test_a_held_seat_changes_colour_within_a_second(
    page: Page, http: httpx.AsyncClient, served: str
) -> None:
    sections = {
        "sections": [
            {"name": "Stalls", "price": 40, "rows": [{"name": "A", "seats": 8}]},
            {"name": "Balcony", "price": 25, "rows": [{"name": "A", "seats": 6}]},
        ]
    }
    event = await make_event(http, numSeats=14, seating=sections)
    seats = {s["id"]: s for s in await seats_of(http, event["id"])}
    fan = await make_customer(http)
    await page.goto(f"{served}/events/{event['id']}/map")
    await page.wait_for_function("() => document.querySelectorAll('.seat').length === 14")
    await page.wait_for_selector("#live.on")
    assert await page.title() == f"{event['eventName']} · seat map"
    assert await page.locator("section[data-section]").count() == 2
    assert await _legend(page) == {"OPEN": 14, "ON_HOLD": 0, "RESERVED": 0}
    target = next(i for i, s in seats.items() if s["section"] == "Balcony")
    open_colour = await _colour(page, target)

    held = await http.post(
        f"/events/{event['id']}/holds", json={"seatIds": [target]}, headers=fan.headers
    )
    assert held.status_code == 201, held.text
    await page.wait_for_function(
        f"""() => {{
            const n = document.querySelector('[data-seat="{target}"]');
            return n.dataset.status === "ON_HOLD"
                && getComputedStyle(n).backgroundColor !== {open_colour!r};
        }}""",
        timeout=1000,
    )
    assert await _legend(page) == {"OPEN": 13, "ON_HOLD": 1, "RESERVED": 0}
    hold_colour = await _colour(page, target)

    done = await http.post(f"/holds/{held.json()['id']}/reservation", headers=fan.headers)
    assert done.status_code == 201, done.text
    await page.wait_for_function(
        f"() => document.querySelector('[data-seat=\"{target}\"]').dataset.status === 'RESERVED'",
        timeout=1000,
    )
    assert await _colour(page, target) not in (open_colour, hold_colour)
    assert await _legend(page) == {"OPEN": 13, "ON_HOLD": 0, "RESERVED": 1}

    # Readable on a phone: nothing wider than the screen, seats big enough to see.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    box = await page.locator(f'[data-seat="{target}"]').bounding_box()
    assert box is not None
    assert box["width"] >= 12
    # Nothing came from anywhere but the service.
    origin = urlsplit(served).netloc
    requested: list[str] = page.requested  # type: ignore[attr-defined]
    assert requested
    assert {urlsplit(u).netloc for u in requested if not u.startswith("data:")} == {origin}


async def test_general_admission_is_one_block_with_counts(
    page: Page, http: httpx.AsyncClient, served: str
) -> None:
    event = await make_event(http, numSeats=20, seating={"assignedSeating": False})
    assert event["assignedSeating"] is False
    fan = await make_customer(http)
    await page.goto(f"{served}/events/{event['id']}/map")
    await page.wait_for_selector("#live.on")
    await page.wait_for_function("() => document.getElementById('c-OPEN').textContent === '20'")
    assert await page.locator(".seat").count() == 0
    assert await page.locator(".ga").count() == 1
    held = await http.post(
        f"/events/{event['id']}/holds", json={"quantity": 5}, headers=fan.headers
    )
    assert held.status_code == 201, held.text
    await page.wait_for_function(
        "() => document.getElementById('c-ON_HOLD').textContent === '5'", timeout=1000
    )
    assert await _legend(page) == {"OPEN": 15, "ON_HOLD": 5, "RESERVED": 0}
    # The held share of the bar grows (it may be animated): it must come to a quarter.
    await page.wait_for_function(
        """() => {
            const bar = document.querySelector(".ga").getBoundingClientRect().width;
            const held = document.querySelector(".ga .h").getBoundingClientRect().width;
            return Math.abs(held / bar - 0.25) < 0.02;
        }"""
    )
