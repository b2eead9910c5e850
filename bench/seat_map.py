"""Picture the seat map of a busy event: `python -m bench.seat_map [out.png]`.

Starts the service on a scratch stack, sells part of a three-section event to a crowd of
customers, leaves some seats on hold, and has headless Chromium draw `/events/{id}/map` at a
desktop and at a phone width (docs/images/seat-map.png and seat-map-phone.png by default).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

from bench.service import running, serve

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SEATING = {
    "assignedSeating": True,
    "sections": [
        {"name": "Stalls", "price": 65, "rows": [{"name": r, "seats": 24} for r in "ABCDEFGHJK"]},
        {"name": "Dress Circle", "price": 48, "rows": [{"name": r, "seats": 20} for r in "ABCDE"]},
        {"name": "Balcony", "price": 29, "rows": [{"name": r, "seats": 16} for r in "ABCD"]},
    ],
}
SEATS = 10 * 24 + 5 * 20 + 4 * 16


async def busy_event(http: httpx.AsyncClient, admin: dict[str, str]) -> str:
    body = {
        "eventName": "Spring Gala",
        "eventLocation": "Grand Theatre",
        "eventDateTimeStamp": "2027-04-17T19:30:00Z",
        "numSeats": SEATS,
        "maxNumSeats": 8,
        "seating": SEATING,
    }
    created = await http.post("/events", json=body, headers=admin)
    created.raise_for_status()
    event_id: str = created.json()["id"]
    rng = random.Random(2027)
    for n in range(70):
        made = await http.post("/customers", json={"firstName": "Fan", "lastName": f"{n}"})
        made.raise_for_status()
        fan = {"Authorization": f"Bearer {made.json()['token']}"}
        section = rng.choice(["Stalls", "Stalls", "Dress Circle", "Balcony"])
        held = await http.post(
            f"/events/{event_id}/holds",
            json={"quantity": rng.randint(2, 4), "section": section},
            headers=fan,
        )
        if held.status_code != 201:
            continue
        if n % 5 != 4:  # most check out; some are still deciding when the picture is taken
            done = await http.post(f"/holds/{held.json()['id']}/reservation", headers=fan)
            done.raise_for_status()
    return event_id


async def picture(base: str, event_id: str, out: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is missing (make system-packages installs it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=ARGS)
        for suffix, size in (("", (1100, 800)), ("-phone", (390, 844))):
            page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
            await page.goto(f"{base}/events/{event_id}/map")
            await page.wait_for_selector("#live.on")
            await page.wait_for_function(
                f"() => document.querySelectorAll('.seat').length === {SEATS}"
            )
            target = out.with_name(out.stem + suffix + out.suffix)
            await page.screenshot(path=str(target), full_page=not suffix)
            print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
            await page.close()
        await browser.close()


async def draw(base: str, admin_token: str, out: Path) -> None:
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        event_id = await busy_event(http, admin)
    await picture(base, event_id, out)


def main(out: Path) -> None:
    with running() as stack, serve(stack) as server:
        asyncio.run(draw(server.base_url, stack.admin_token, out))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "seat-map.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    main(target)
