// The Gantt-like timeline: one row per caregiver across the day's axis, with the shift,
// travel legs, waiting, breaks and visit blocks of the shown plan version, and on the
// right who acknowledged their changed route.

import { clock, el, localClock, toSeconds } from "./board_util.js";

const MIN_BLOCK_PCT = 0.35;

/** The axis in seconds: the configured hours, widened to whole hours around any shift or
 * stop that falls outside them. */
export function axisOf(model, configured) {
  let [from, to] = configured.map(toSeconds);
  for (const c of model.caregivers.values()) {
    from = Math.min(from, toSeconds(c.shift[0]));
    to = Math.max(to, toSeconds(c.shift[1]));
  }
  for (const route of model.routes.values()) {
    for (const s of route.stops) {
      from = Math.min(from, s.arrival);
      to = Math.max(to, s.end);
    }
  }
  return [Math.floor(from / 3600) * 3600, Math.ceil(to / 3600) * 3600];
}

export function renderTimeline(container, model, view) {
  const { t, axis } = view;
  const span = axis[1] - axis[0];
  const pct = (s) => ((s - axis[0]) / span) * 100;
  const box = (a, b) => `left:${pct(a)}%;width:${Math.max(pct(b) - pct(a), MIN_BLOCK_PCT)}%`;
  const hours = span / 3600;

  const ticks = [];
  for (let h = 0; h <= hours; h += 1) {
    const s = axis[0] + h * 3600;
    ticks.push(el("span", { class: "tl__tick", style: `left:${pct(s)}%` }, clock(s)));
  }
  const head = el("div", { class: "tl__row tl__row--head" },
    el("div", { class: "tl__label" }, t("caregiver")),
    el("div", { class: "tl__axis" }, ticks),
    el("div", { class: "tl__ack" }, t("ack")));

  const acks = new Map(model.day.acks.map((a) => [a.caregiver_ref, a]));
  const rows = [...model.caregivers.values()].map((c) => row(c, model, view, { pct, box, acks, hours }));
  const body = el("div", { class: "tl__body", style: `--hours:${hours}` }, rows);
  if (view.nowS !== null && view.nowS > axis[0] && view.nowS < axis[1]) {
    body.append(el("div", { class: "tl__now", style: `left:calc(var(--label-w) + (100% - var(--label-w) - var(--ack-w)) * ${pct(view.nowS) / 100})`, title: t("now") }));
  }
  container.replaceChildren(el("div", { class: "tl", role: "grid", "aria-rowcount": rows.length + 1 }, head, body));
  container.removeAttribute("aria-busy");
}

function row(c, model, view, geo) {
  const { t } = view;
  const route = model.routes.get(c.ref);
  const track = el("div", { class: "tl__track" });
  const [shiftStart, shiftEnd] = c.shift.map(toSeconds);
  track.append(el("div", {
    class: "tl__shift", style: geo.box(shiftStart, shiftEnd),
    title: t("shift", { start: c.shift[0], end: c.shift[1] }),
  }));
  if (c.absent) {
    const from = c.absent.from ? toSeconds(c.absent.from) : shiftStart;
    const text = c.absent.from
      ? t("absent_from", { time: c.absent.from, reason: c.absent.reason })
      : t("absent_all_day", { reason: c.absent.reason });
    track.append(el("div", { class: "tl__absent", style: geo.box(from, Math.max(shiftEnd, from + 1800)), title: text }));
  }
  let workS = 0;
  let count = 0;
  if (route) {
    for (const [a, b] of route.legs) {
      track.append(el("div", { class: "tl__travel", style: geo.box(a, b), title: t("travel", { min: Math.round((b - a) / 60) }) }));
    }
    for (const br of route.breaks) {
      track.append(el("div", {
        class: "tl__break", style: geo.box(br.start, br.end),
        title: t("break", { start: clock(br.start), end: clock(br.end) }),
      }));
    }
    for (const stop of route.stops) {
      if (stop.start - stop.arrival >= 60) {
        track.append(el("div", {
          class: "tl__wait", style: geo.box(stop.arrival, stop.start),
          title: t("waiting", { min: Math.round((stop.start - stop.arrival) / 60) }),
        }));
      }
      track.append(visitBlock(model.visits.get(stop.ref), stop, c, view, geo));
    }
    workS = route.work_s || 0;
    count = route.stops.length;
  }
  const label = el("div", { class: "tl__label", title: route ? t("work_time", { hours: (workS / 3600).toFixed(1), visits: count }) : t("no_route") },
    el("span", { class: "swatch", style: `background:${c.colour}` }),
    el("span", { class: "tl__name" }, c.name),
    c.kind === "volunteer" ? el("span", { class: "tag tag--volunteer" }, t("volunteer")) : null,
    el("span", { class: "tl__count" }, count ? String(count) : "–"));
  const classes = ["tl__row"];
  if (!route || !count) classes.push("tl__row--idle");
  if (c.absent) classes.push(c.absent.from ? "tl__row--leaves" : "tl__row--absent");
  if (view.focusCaregiver === c.ref) classes.push("tl__row--focus");
  return el("div", { class: classes.join(" "), dataset: { ref: c.ref } }, label, track, ackCell(geo.acks.get(c.ref), view));
}

function visitBlock(visit, stop, caregiver, view, geo) {
  const { t } = view;
  const ref = stop.ref;
  const classes = ["tl__visit", `tl__visit--p${visit ? visit.priority : 2}`];
  if (visit && ["in_progress", "completed", "verified"].includes(visit.status)) classes.push("tl__visit--done");
  const locked = view.locked.has(ref);
  if (locked) classes.push("tl__visit--locked");
  if (view.selected === ref) classes.push("tl__visit--selected");
  if (view.moved.has(ref)) classes.push("tl__visit--moved");
  if (view.flagged.has(ref)) classes.push("tl__visit--flagged");
  const name = visit ? visit.person_name : ref;
  const title = [
    `${name} · ${clock(stop.start)}–${clock(stop.end)}`,
    visit ? `${visit.service_item.name} · ${t("priority_n", { n: visit.priority })}` : "",
    visit ? visit.address : "",
    locked ? t("locked") : "",
    view.moved.has(ref) ? t("moved") : "",
  ].filter(Boolean).join("\n");
  return el("button", {
    type: "button",
    class: classes.join(" "),
    style: geo.box(stop.start, stop.end),
    title,
    // The status as data, for scripts and tests; the classes above carry the look.
    dataset: { ref, caregiver: caregiver.ref, status: visit ? visit.status : "" },
    "aria-pressed": view.selected === ref ? "true" : "false",
    onclick: () => view.onSelect(ref),
  }, locked ? el("span", { class: "lock", "aria-label": t("locked") }) : null,
  el("span", { class: "tl__visit-text" }, name));
}

function ackCell(ack, view) {
  const { t } = view;
  if (!ack) return el("div", { class: "tl__ack" });
  if (ack.acknowledged_at) {
    const time = localClock(ack.acknowledged_at, view.timezone);
    return el("div", { class: "tl__ack tl__ack--done", title: t("ack_done", { time }) }, `✓ ${time}`);
  }
  if (ack.overdue) {
    const time = localClock(ack.first_affected_at, view.timezone);
    return el("div", { class: "tl__ack tl__ack--overdue", title: t("ack_overdue", { time }) }, `! ${t("ack_waiting")}`);
  }
  return el("div", { class: "tl__ack tl__ack--waiting", title: t("ack_waiting") }, t("ack_waiting"));
}
