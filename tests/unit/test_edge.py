"""Which address a request is counted against: the peer's, unless a trusted proxy says."""

from __future__ import annotations

from typing import Any

from ticketing.observe.edge import client_address


def _scope(forwarded: str | None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"client": ("10.0.0.9", 51000), "headers": headers}


def test_the_peer_address_unless_forwarded_headers_are_trusted() -> None:
    claimed = "203.0.113.5, 198.51.100.7"
    assert client_address(_scope(claimed), trust_forwarded=False) == "10.0.0.9"
    # Behind a trusted proxy: the last entry, the one the proxy added; earlier ones are
    # whatever the client claimed and could be anything.
    assert client_address(_scope(claimed), trust_forwarded=True) == "198.51.100.7"
    assert client_address(_scope(None), trust_forwarded=True) == "10.0.0.9"
    assert client_address(_scope(""), trust_forwarded=True) == "10.0.0.9"
    assert client_address({"client": None, "headers": []}, trust_forwarded=False) == "unknown"
