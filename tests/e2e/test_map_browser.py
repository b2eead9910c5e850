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

from tests.conftest import ADMIN_TOKEN, make_customer, make_event, seats_of

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


VENUE = {
    # The organiser's order, which is not alphabetical; rows of 25 and 30 seats.
    "price": 30,
    "sections": [
        {
            "name": "Stalls",
            "price": 65,
            "rows": [{"name": r, "seats": 30} for r in "ABCDEFGHIJKLMNOP"],
        },
        {"name": "Circle", "price": 45, "rows": [{"name": r, "seats": 25} for r in "ABCDEFGHIJ"]},
        {
            "name": "Balcony",
            "rows": [{"name": r, "seats": 30} for r in "ABCDEFGHI"],
        },
    ],
}


async def _rows_on_one_line(page: Page) -> bool:
    one_line: bool = await page.evaluate(
        """() => [...document.querySelectorAll(".row")].every(row => {
               const seats = [...row.querySelectorAll(".seat")];
               return new Set(seats.map(s => s.getBoundingClientRect().top)).size === 1;
           })"""
    )
    return one_line


@pytest.mark.parametrize("width", [390, 1280, 1920])
async def test_a_busy_venue_draws_rows_on_one_line_in_the_organisers_order(
    browser: Browser, http: httpx.AsyncClient, served: str, width: int, tmp_path: Any
) -> None:
    event = await make_event(http, numSeats=1000, maxNumSeats=10, seating=VENUE)
    fans = [await make_customer(http) for _ in range(12)]
    for fan in fans:  # a busy event: holds and sales across it
        held = await http.post(
            f"/events/{event['id']}/holds", json={"quantity": 8}, headers=fan.headers
        )
        assert held.status_code == 201, held.text
        if fan is not fans[0]:
            await http.post(f"/holds/{held.json()['id']}/reservation", headers=fan.headers)
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    # Drawn by the page itself, before any stream: what a plain screenshot catches.
    await page.goto(f"{served}/events/{event['id']}/map", wait_until="domcontentloaded")
    assert await page.locator(".seat").count() == 1000
    assert await page.locator(".stage").count() == 1
    names = await page.eval_on_selector_all(
        "section[data-section]", "s => s.map(x => x.dataset.section)"
    )
    assert names == ["Stalls", "Circle", "Balcony"]
    prices = await page.eval_on_selector_all("section h2 .price", "s => s.map(x => x.textContent)")
    assert prices == ["€65", "€45", "€30"]
    assert await _rows_on_one_line(page)
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    label = await page.get_attribute(".seat", "aria-label")
    assert label is not None
    assert "Stalls row A seat 1" in label
    assert "€65" in label
    assert await page.locator(".seat", has_text="30").count() >= 16  # numbers on the seats
    await page.wait_for_selector("#live.on")
    await page.screenshot(path=str(tmp_path / f"map-{width}.png"), full_page=True)
    await context.close()


async def test_an_unknown_event_is_a_page_that_says_so(page: Page, served: str) -> None:
    for path in ("map", "onsale"):
        answer = await page.goto(f"{served}/events/00000000-0000-4000-8000-000000000000/{path}")
        assert answer is not None
        assert answer.status == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert await page.locator("h1").text_content() == "No such event"


@pytest.mark.parametrize("width", [390, 1280])
async def test_a_fan_goes_from_the_queue_to_a_bought_seat_on_the_onsale_page(
    browser: Browser, http: httpx.AsyncClient, served: str, width: int, tmp_path: Any
) -> None:
    event = await make_event(
        http,
        numSeats=40,
        maxNumSeats=4,
        seating={
            "sections": [
                {
                    "name": "Stalls",
                    "price": 50,
                    "rows": [{"name": "A", "seats": 20}, {"name": "B", "seats": 20}],
                }
            ]
        },
        waitingRoom={"enabled": True, "admitPerMinute": 600, "opensBeforeSeconds": 3600},
    )
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    await page.goto(f"{served}/events/{event['id']}/onsale")
    # Not signed in: no hold can be taken before joining, the page asks who you are.
    await page.fill("#first", "Ada")
    await page.fill("#last", "Lovelace")
    await page.click("#signup button")
    await page.wait_for_selector("#queue:not([hidden])")
    await page.screenshot(path=str(tmp_path / f"queue-{width}.png"), full_page=True)
    await page.wait_for_function(
        "() => document.getElementById('place').textContent === \"You're in\"", timeout=15_000
    )
    await page.wait_for_selector("#seats:not([hidden]) .seat")
    # By keyboard: focus the first open seat of row B and press Enter, then hold it.
    target = page.locator("section[data-section='Stalls'] .row").nth(1).locator(".seat").first
    await target.focus()
    await page.keyboard.press("Enter")
    assert await target.get_attribute("aria-pressed") == "true"
    await page.click("#hold-picked")
    await page.wait_for_selector("#held:not([hidden])")
    assert "Stalls B1" in (await page.text_content("#held-seats") or "")
    countdown = await page.text_content("#countdown")
    assert countdown is not None
    assert ":" in countdown
    assert await target.evaluate("n => n.classList.contains('mine')")
    await page.screenshot(path=str(tmp_path / f"checkout-{width}.png"), full_page=True)
    await page.click("#buy")
    await page.wait_for_selector("#done:not([hidden])")
    assert "Stalls B1" in (await page.text_content("#done-text") or "")
    # Read back: that seat is sold to the fan the page signed up.
    me = await page.evaluate("() => localStorage.getItem('ticketing.customer')")
    seats = await seats_of(http, event["id"], status="RESERVED")
    assert [(s["row"], s["seatNumber"]) for s in seats] == [("B", 1)]
    sold = (
        await http.get(
            f"/events/{event['id']}/reservations",
            headers={"Authorization": "Bearer " + ADMIN_TOKEN},
        )
    ).json()
    assert [r["customerId"] for r in sold["items"]] == [me]
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    await context.close()


async def test_a_fan_let_in_for_the_last_seats_is_told_how_many_it_may_take(
    page: Page, http: httpx.AsyncClient, served: str
) -> None:
    event = await make_event(
        http,
        numSeats=10,
        maxNumSeats=8,
        waitingRoom={"enabled": True, "admitPerMinute": 6000, "opensBeforeSeconds": 3600},
    )
    # A first fan is let in (for eight) and holds seven: two are left for the next one.
    first = await make_customer(http)
    joined = await http.post(f"/events/{event['id']}/queue", headers=first.headers)
    assert joined.status_code == 201, joined.text
    for _ in range(50):
        entry = (await http.get(f"/queue/{joined.json()['id']}", headers=first.headers)).json()
        if entry["state"] == "ADMITTED":
            break
        await page.wait_for_timeout(100)
    held = await http.post(
        f"/events/{event['id']}/holds", json={"quantity": 7}, headers=first.headers
    )
    assert held.status_code == 201, held.text
    await page.goto(f"{served}/events/{event['id']}/onsale")
    await page.fill("#first", "Grace")
    await page.fill("#last", "Hopper")
    await page.click("#signup button")
    await page.wait_for_function(
        "() => document.getElementById('place').textContent === \"You're in\"", timeout=15_000
    )
    await page.select_option("#quantity", "4")
    await page.click("#best")
    await page.wait_for_function(
        "() => document.getElementById('say').textContent.includes('last seats')"
    )
    said = await page.text_content("#say") or ""
    assert "at most 2" in said, said
    # Two it may hold.
    await page.select_option("#quantity", "2")
    await page.click("#best")
    await page.wait_for_selector("#held:not([hidden])")
