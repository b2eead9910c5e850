// The seat map shared by the map page and the onsale page: the stage at the front, sections
// in the organiser's order, every row on one line (a wide section scrolls, never wraps),
// seat numbers on the seats, prices in the legend and on each seat's label, and the fan's own
// seats told apart. Seats are buttons: with `pick`, a keyboard or a finger picks open ones.
"use strict";
window.SeatMap = function SeatMap(root, { pick = null, currency = "€" } = {}) {
  const STATUSES = ["OPEN", "ON_HOLD", "RESERVED"];
  const WORD = { OPEN: "open", ON_HOLD: "on hold", RESERVED: "reserved" };
  const seats = new Map();     // id -> {seat, status, section, el}
  const sections = new Map();  // name -> {counts, countsEl, ga}
  const picked = new Set();
  let mine = new Set(), total = {}, generalAdmission = false;
  const el = (tag, attrs = {}, text) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  };
  const zero = () => ({ OPEN: 0, ON_HOLD: 0, RESERVED: 0 });
  const money = (p) => currency + (Number.isInteger(p) ? p : p.toFixed(2));
  const label = (s) => generalAdmission
    ? `General admission, ${money(s.seat.price)}`
    : `${s.section} row ${s.seat.row} seat ${s.seat.seatNumber}, ${money(s.seat.price)}, ` +
      (mine.has(s.seat.id) ? "yours" : WORD[s.status]);

  function paint(s) {
    if (!s.el) return;
    s.el.dataset.status = s.status;
    s.el.classList.toggle("mine", mine.has(s.seat.id));
    s.el.classList.toggle("picked", picked.has(s.seat.id));
    s.el.setAttribute("aria-label", label(s));
    s.el.setAttribute("aria-pressed", picked.has(s.seat.id) ? "true" : "false");
    s.el.disabled = !pick || (s.status !== "OPEN" && !picked.has(s.seat.id));
  }

  function counts() {
    for (const sec of sections.values()) {
      const c = sec.counts, all = c.OPEN + c.ON_HOLD + c.RESERVED;
      sec.countsEl.textContent = `${c.OPEN} open · ${c.ON_HOLD} on hold · ${c.RESERVED} sold of ${all}`;
      if (sec.ga && all) {
        sec.ga.h.style.width = (100 * c.ON_HOLD / all) + "%";
        sec.ga.r.style.width = (100 * c.RESERVED / all) + "%";
      }
    }
    root.dispatchEvent(new CustomEvent("counts", { detail: { ...total } }));
  }

  function render(snapshot) {
    seats.clear(); sections.clear(); total = zero();
    generalAdmission = snapshot.generalAdmission;
    root.replaceChildren(el("div", { class: "stage", "aria-hidden": "true" }, "STAGE"));
    if (snapshot.seats.length === 0) root.append(el("p", { class: "note" }, "This event has no seats."));
    const prices = new Map();  // section -> [min, max]
    for (const seat of snapshot.seats) {
      const p = prices.get(seat.section ?? "") ?? [Infinity, -Infinity];
      prices.set(seat.section ?? "", [Math.min(p[0], seat.price), Math.max(p[1], seat.price)]);
    }
    let rowEl = null, rowKey = null;
    for (const seat of snapshot.seats) {
      const name = seat.section ?? "General admission";
      let sec = sections.get(name);
      if (!sec) {
        const box = el("section", { "data-section": name });
        const [lo, hi] = prices.get(seat.section ?? "");
        const head = el("h2", {}, name);
        head.append(el("span", { class: "price" }, lo === hi ? money(lo) : `${money(lo)}–${money(hi)}`));
        const countsEl = el("div", { class: "counts" });
        const rows = el("div", { class: "rows" });
        box.append(head, countsEl, rows);
        sec = { counts: zero(), countsEl, rows, ga: null };
        if (generalAdmission) {
          const bar = el("div", { class: "ga", role: "img", "aria-label": "share held and sold" });
          const r = el("div", { class: "r" }), h = el("div", { class: "h" });
          bar.append(r, h); rows.append(bar); sec.ga = { r, h };
        }
        sections.set(name, sec); root.append(box); rowKey = null;
      }
      let node = null;
      if (!generalAdmission) {
        if (rowKey !== name + "\u0000" + seat.row) {
          rowKey = name + "\u0000" + seat.row;
          const row = el("div", { class: "row" });
          rowEl = el("div", { class: "seats" });
          row.append(el("b", {}, seat.row ?? ""), rowEl, el("b", {}, seat.row ?? ""));
          sec.rows.append(row);
        }
        node = el("button", { type: "button", class: "seat", "data-seat": seat.id }, String(seat.seatNumber ?? ""));
        rowEl.append(node);
      }
      const s = { seat, status: seat.status, section: name, el: node };
      if (node && pick) node.addEventListener("click", () => {
        if (picked.has(seat.id)) picked.delete(seat.id); else if (s.status === "OPEN") picked.add(seat.id);
        paint(s); pick([...picked]);
      });
      seats.set(seat.id, s); paint(s);
      sec.counts[seat.status] += 1; total[seat.status] += 1;
    }
    counts();
  }

  function change(event) {
    for (const id of event.seatIds) {
      const s = seats.get(id);
      if (!s || s.status === event.status) continue;
      const sec = sections.get(s.section);
      sec.counts[s.status] -= 1; total[s.status] -= 1;
      s.status = event.status;
      sec.counts[s.status] += 1; total[s.status] += 1;
      if (s.status !== "OPEN" && !mine.has(id) && picked.delete(id) && pick) pick([...picked]);
      paint(s);
    }
    counts();
  }

  function setMine(ids) {
    mine = new Set(ids);
    for (const s of seats.values()) paint(s);
  }

  function clearPicked() {
    picked.clear();
    for (const s of seats.values()) paint(s);
  }

  function live(eventId, onState) {
    const source = new EventSource(`/events/${eventId}/stream`);
    source.addEventListener("snapshot", (e) => { render(JSON.parse(e.data)); onState(true); });
    source.addEventListener("seats", (e) => change(JSON.parse(e.data)));
    source.addEventListener("error", () => onState(false));
    return source;
  }

  return { render, change, setMine, clearPicked, live, seat: (id) => seats.get(id)?.seat };
};
