"""Python and Lua agree on the hold engine's keys: one list names them for both."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from ticketing.holds import keys
from ticketing.holds.engine import SCRIPTS

_LUA = {path.name: path.read_text() for path in sorted(Path(SCRIPTS).glob("*.lua"))}


def test_event_keys_are_the_events_hash_tag_and_their_names_in_order() -> None:
    event = uuid.uuid4()
    named = keys.EventKeys.of(event)
    assert named.ordered() == [f"{{ev:{event}}}:{name}" for name in keys.NAMES]
    assert named.meta == f"{{ev:{event}}}:meta"
    assert keys.MIRROR == (
        "meta",
        "seats",
        "rank",
        "reserved",
        "rescount",
        "free",
        "nofit",
        "openat",
        "heldat",
    )
    assert keys.channel(event) == f"{{ev:{event}}}:changes"


def test_the_lua_key_table_is_written_from_the_same_names() -> None:
    prelude = keys.lua_prelude()
    bound = re.findall(r"(\w+) = T \.\. ':(\w+)'", prelude)
    assert bound == [(name, name) for name in keys.NAMES]
    assert "local T = string.match(KEYS[1], '^(%b{})')" in prelude
    assert "local EXTRA = 1" in prelude
    assert "channel = ARGV[1]" in prelude
    event = uuid.uuid4()
    assert keys.script_keys(event) == [keys.EventKeys.of(event).meta]


def test_scripts_name_only_keys_that_exist_and_never_a_position() -> None:
    for name, text in _LUA.items():
        used = set(re.findall(r"\bK\.(\w+)", text))
        assert used <= {*keys.NAMES, "channel"}, (name, used - {*keys.NAMES, "channel"})
        # A key by number would silently move when a key is added: scripts name them, and
        # reach the keys a caller adds after the event's as KEYS[EXTRA + n].
        assert not re.search(r"KEYS\[\d+\]", text), name
        assert "local K =" not in text, name  # the table comes from keys.lua_prelude()


def test_every_key_is_used_by_some_script() -> None:
    text = "\n".join(_LUA.values())
    assert {n for n in keys.NAMES if f"K.{n}" not in text} == set()
