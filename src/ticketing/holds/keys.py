"""The Redis keys of the hold engine, named once for Python and Lua.

`EventKeys` is the one list of an event's keys, and `lua_prelude()` writes the scripts' `K`
table from the same fields, so adding a key is one line here (and what the scripts do with
it). Every key of an event shares the hash tag `{ev:<eventId>}`, so each script runs on one
shard of a cluster; a script is given the first key only and names the rest from its tag.

Only the holds package reads these: other domains ask `HoldService`.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from uuid import UUID

# Every key of the hold engine, as SCAN patterns (`ticketing db reset` deletes them): the
# events' keys and pub/sub channels share `{ev:`, the rest are below.
PATTERNS = ("{ev:*", "hold:*", "cholds:*", "holds:*", "qent:*")

# Outside any event's slot.
SWEEP_SET = "holds:events"  # events with a mirror or holds in Redis
# ZSET event id -> when its next hold runs out (ms), at the latest: the sweeper visits only
# the events due (docs/design/holds.md, "Sweeping")
DUE = "holds:due"
SWEEPER_LEASE = "holds:sweeper"  # which process sweeps now


def tag(event_id: UUID | str) -> str:
    return f"{{ev:{event_id}}}"


def channel(event_id: UUID | str) -> str:
    """The event's pub/sub channel: every change to what readers see is published here."""
    return f"{tag(event_id)}:changes"


def hold_key(hold_id: UUID | str) -> str:
    """hold id -> its event id (for /holds/{id})."""
    return f"hold:{hold_id}"


def queue_entry_key(entry_id: UUID | str) -> str:
    """waiting-room entry id -> its event id (for /queue/{id})."""
    return f"qent:{entry_id}"


def customer_holds_key(customer_id: UUID | str) -> str:
    """A customer's holds, as `eventId/holdId` members (for seatsOnHold)."""
    return f"cholds:{customer_id}"


@dataclass(frozen=True, slots=True)
class EventKeys:
    """Every key of one event, in the order the scripts receive them as KEYS.

    The first nine are the mirror of PostgreSQL (rebuilt whenever missing); the rest are
    the holds and the change counter, which live only in Redis. Types and contents are in
    docs/design/holds.md ("Key layout").
    """

    meta: str  # HASH max, hold (seconds), ga (0/1), registered (0/1): the mirror's header
    seats: str  # HASH seat id -> "section\trow\tnumber\tprice\tversion\tposition"
    # HASH seat id -> its best-available rank: 0 is the best seat (cheapest first, then
    # front to back). (Not `order`: that name was a LIST, which a Redis kept across an
    # upgrade may still hold.)
    rank: str
    reserved: str  # SET seat ids reserved in PostgreSQL
    rescount: str  # HASH customer id -> seats reserved in this event
    # ZSET "id\tsection\trow\tnumber" scored by rank: the seats neither reserved nor held,
    # which best available reads in order without a call per seat
    free: str
    # HASH section ('' for any) -> the fewest seats side by side no run of K.free can give:
    # holds only shorten runs, so asking for that many or more is refused at once, until a
    # seat comes back (which clears it)
    nofit: str
    # ZSETs of the seats open now (the members of K.free) and of the seats held now, in the
    # organiser's order: every score is 0 and each seat has two members, "p\t<position>\t<id>"
    # and "s<section>\t<position>\t<id>" (the position as ten digits), so that a page of
    # open or of held seats, of the event or of one section, is one range read (seatpage.lua)
    openat: str
    heldat: str
    held: str  # HASH seat id -> hold id
    expiry: str  # ZSET hold id -> expiry (or fence deadline), ms since the epoch
    custheld: str  # HASH customer id -> seats held in this event
    holds: str  # HASH hold id -> JSON {c, s, t0, t, h, f}
    seq: str  # STRING the event's change counter
    epoch: str  # STRING when the counter started (ms): a new epoch means it started again
    # LIST holds that ran out, JSON each, until the sweeper hands them on. (Not `expired`:
    # that name was a counter, a STRING, which a Redis kept across an upgrade may still hold.)
    ran_out: str
    gen: str  # STRING the mirror's generation: every drop of the mirror counts one
    # STRING the token of the one process building the mirror now (it expires, so a builder
    # that dies passes the build on)
    building: str
    # HASH client address (IPv4, or IPv6 /64) -> seats held from it in this event, so that
    # one address cannot take a large share of one event however many customers it signs up
    addrheld: str
    # The waiting room (API.md v2), kept apart from the mirror: dropping a mirror loses no
    # fan's place. qmeta HASH: on, rate (per minute), window (ms), opens, start (ms), head (next
    # place in qorder to admit), tokens, last (ms), arrivals, sold_out, and counters n_w, n_a,
    # n_au (admitted, not yet holding), n_d, n_e, n_l
    qmeta: str
    qorder: str  # ZSET customer by place: random before the start, arrival order after
    qentry: str  # HASH customer -> JSON {i: entry id, j: joined, s: W/A/D/E/L, h: 1 once held}
    qids: str  # HASH entry id -> customer
    qadmitted: str  # ZSET customer -> admitted until (ms), for the admitted now
    # HASH customer -> the most seats it may hold and have bought while admitted, for a fan
    # admitted when the open seats left for it were fewer than maxNumSeats (queue_admit.lua)
    qcap: str
    qleft: str  # LIST ids of entries that left while waiting, oldest first (queue_head.lua)

    @classmethod
    def of(cls, event_id: UUID | str) -> EventKeys:
        t = tag(event_id)
        return cls(*(f"{t}:{f.name}" for f in fields(cls)))

    def ordered(self) -> list[str]:
        """Every key, in the order of the fields (to delete them all, say)."""
        return list(astuple(self))


NAMES = tuple(f.name for f in fields(EventKeys))
MIRROR = NAMES[:9]


def script_keys(event_id: UUID | str) -> list[str]:
    """The keys a script of the event is given: its `meta` alone. The others share its hash
    tag, so the script names them from it (`lua_prelude`) and a cluster still runs it on
    the event's shard; each key passed costs the client a conversion per call, and there
    are over twenty."""
    return [EventKeys.of(event_id).meta]


def lua_prelude() -> str:
    """The scripts' `K` table: each name of `EventKeys`, made from the hash tag of KEYS[1]
    (`script_keys`), and `EXTRA`, the number of keys the event's take (scripts given more
    keys read KEYS[EXTRA + i])."""
    names = ", ".join(f"{name} = T .. ':{name}'" for name in NAMES)
    return (
        "-- Written by ticketing.holds.keys.lua_prelude from EventKeys: edit the keys there.\n"
        "local T = string.match(KEYS[1], '^(%b{})')\n"
        f"local K = {{{names}, channel = ARGV[1]}}\n"
        "local EXTRA = 1\n"
    )
