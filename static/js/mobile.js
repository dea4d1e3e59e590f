// The caregiver app: today's route, navigation links, check-in/check-out with the GPS
// position through the outbox, the person's or family's confirmation (PIN or signature),
// and live route changes with an acknowledgement.
//
// The REST API is the record; Socket.IO events only say "something changed", so after
// every (re)connection and every event the route is read again.

import { clearAll, loadRoute, purge, saveRoute } from "./mobile_store.js";
import { Outbox, newAction } from "./mobile_outbox.js";
import { MAX_CHARS, isSignature, signaturePad, toPath } from "./mobile_signature.js";

const config = JSON.parse(document.getElementById("m-config").textContent);
const strings = {
  ...JSON.parse(document.getElementById("m-strings").textContent),
  ...JSON.parse(document.getElementById("m-strings-confirm").textContent),
};
const $ = (id) => document.getElementById(id);
// drafts: per visit, the confirmation being given at check-out ({method, by, pin, strokes}).
// Memory only: a PIN or a signature reaches storage only inside its outbox action.
const state = { route: null, notice: null, ticked: new Map(), drafts: new Map() };
const PIN = /^[0-9]{4,6}$/;

function t(key, params = {}) {
  return (strings[key] || key).replace(/%\((\w+)\)s/g, (_, name) => String(params[name] ?? ""));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function clock(iso) {
  // The agency's time zone, whatever the phone's setting.
  return new Date(iso).toLocaleTimeString(config.locale, {
    hour: "2-digit",
    minute: "2-digit",
    timeZone: config.timezone,
  });
}

// An important message (say, a wrong PIN) is not replaced by a routine one while shown.
function toast(message, { important = false } = {}) {
  const box = $("m-toast");
  if (!important && toast.important && !box.hidden) return;
  toast.important = important;
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 6000);
}

// --- route -------------------------------------------------------------------------------

async function loadFromServer() {
  try {
    const response = await fetch(config.routeUrl.replace("{date}", config.today), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401) {
      clearAll();
      window.location.assign(config.loginUrl);
      return;
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || response.statusText);
    state.route = body;
    saveRoute(config.userId, config.today, body);
    render();
    showOpenNotice();
  } catch (error) {
    const saved = loadRoute(config.userId, config.today);
    if (saved && !state.route) {
      state.route = saved.route;
      render();
      toast(t("stale", { time: clock(saved.savedAt) }));
    } else if (!saved) {
      $("m-stops").replaceChildren(el("li", { class: "alert" }, t("load_failed", { message: error.message })));
    }
  }
}

function render() {
  const list = $("m-stops");
  const stops = state.route?.stops || [];
  list.dataset.state = "ready";
  if (!stops.length) {
    list.replaceChildren(el("li", { class: "muted m-empty" }, t("no_visits")));
  } else {
    list.replaceChildren(...stops.map((stop, i) => stopCard(stop, i + 1)));
  }
  drawMap(stops);
}

function stopCard(stop, n) {
  const when = stop.planned_start
    ? t("planned_start", { time: stop.planned_start })
    : t("window", { from: stop.windows[0][0], to: stop.windows[0][1] });
  const [lat, lon] = stop.location;
  const label = encodeURIComponent(stop.person_name);
  const ticked = state.ticked.get(stop.visit_id) || new Set();
  return el(
    "li",
    { class: `m-stop m-stop--${stop.status}`, "data-visit-id": stop.visit_id, "data-status": stop.status },
    el(
      "header",
      { class: "m-stop__head" },
      el("span", { class: "m-stop__n" }, n),
      el("div", {}, el("h2", {}, stop.person_name), el("p", { class: "m-stop__when" }, `${when} · ${t("duration", { n: stop.duration_min })}`)),
      el("span", { class: "m-status", "data-status": stop.status }, t(`status_${stop.status}`)),
    ),
    el("p", { class: "m-stop__address" }, stop.address),
    stop.partners.length ? el("p", { class: "m-stop__partner" }, t("partner", { names: stop.partners.join("、") })) : null,
    el(
      "div",
      { class: "m-nav" },
      el("a", { class: "button button--quiet", href: `geo:${lat},${lon}?q=${lat},${lon}(${label})` }, t("navigate")),
      el("a", { class: "button button--quiet", href: `https://uri.amap.com/marker?position=${lon},${lat}&name=${label}&coordinate=wgs84&callnative=1`, rel: "noopener" }, t("amap")),
      el("a", { class: "button button--quiet", href: `https://api.map.baidu.com/marker?location=${lat},${lon}&title=${label}&content=${label}&coord_type=wgs84&output=html&src=careroute`, rel: "noopener" }, t("baidu")),
      stop.phone ? el("a", { class: "button button--quiet", href: `tel:${stop.phone}` }, t("call")) : null,
    ),
    stop.care_notes ? el("details", { class: "m-notes" }, el("summary", {}, t("care_notes")), el("p", {}, stop.care_notes)) : null,
    el(
      "fieldset",
      { class: "m-items", disabled: stop.status !== "in_progress" || Boolean(stop.checked_out_at) },
      el("legend", {}, t("items")),
      ...stop.items.map((item) =>
        el(
          "label",
          { class: "m-item" },
          el("input", {
            type: "checkbox",
            name: "item",
            value: item.code,
            checked: ticked.has(item.code) || (stop.checked_out_at && true),
            onchange: (e) => tick(stop.visit_id, item.code, e.target.checked),
          }),
          ` ${item.name} (${item.code})`,
        ),
      ),
    ),
    evvLine(stop),
    actionsFor(stop),
  );
}

function evvLine(stop) {
  const lines = [];
  if (stop.checked_in_at) lines.push(t("checked_in_at", { time: clock(stop.checked_in_at) }));
  if (stop.checked_out_at) lines.push(t("checked_out_at", { time: clock(stop.checked_out_at) }));
  if (stop.outcome === "verified") lines.push(t("outcome_verified"));
  if (stop.outcome === "exception") {
    lines.push(t("outcome_exception", { reasons: stop.reasons.map((r) => t(`reason_${r}`)).join("、") }));
  }
  if (stop.outcome === "rejected") lines.push(t("outcome_rejected"));
  return lines.length ? el("p", { class: "m-evv", "data-outcome": stop.outcome || "" }, lines.join(" · ")) : null;
}

function actionsFor(stop) {
  if (!stop.checked_in_at && ["assigned", "in_progress"].includes(stop.status)) {
    return el("button", { class: "button button--primary button--block m-checkin", type: "button", onclick: () => act(stop, "check_in") }, t("check_in"));
  }
  if (stop.checked_in_at && !stop.checked_out_at) {
    return el(
      "div",
      { class: "m-out" },
      confirmation(stop.visit_id),
      el("button", { class: "button button--primary button--block m-checkout", type: "button", onclick: () => act(stop, "check_out") }, t("check_out")),
    );
  }
  return null;
}

function draftOf(visitId) {
  if (!state.drafts.has(visitId)) state.drafts.set(visitId, { method: "", by: "family", pin: "", strokes: [] });
  return state.drafts.get(visitId);
}

// Who confirms and how: nothing (the default), a PIN, or a signature on the pad.
function confirmation(visitId) {
  const draft = draftOf(visitId);
  const select = (name, value, options, onchange) =>
    el("select", { class: `m-confirm__${name}`, name, onchange },
      ...options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
  const box = el(
    "fieldset",
    { class: "m-confirm", "data-method": draft.method },
    el("legend", {}, t("confirm_legend")),
    el("div", { class: "m-confirm__row" },
      el("label", { class: "field" }, el("span", {}, t("confirm_method")),
        select("method", draft.method, [["", t("confirm_none")], ["pin", t("confirm_pin")], ["signature", t("confirm_signature")]], (e) => {
          draft.method = e.target.value;
          box.dataset.method = draft.method;
        })),
      el("label", { class: "field" }, el("span", {}, t("confirm_by")),
        select("by", draft.by, [["family", t("by_family")], ["person", t("by_person")]], (e) => { draft.by = e.target.value; }))),
    el("label", { class: "field m-confirm__pin" }, el("span", {}, t("pin")),
      el("input", { type: "password", inputmode: "numeric", autocomplete: "off", maxlength: "6", pattern: "[0-9]{4,6}", class: "m-pin", value: draft.pin, oninput: (e) => { draft.pin = e.target.value.trim(); } })),
    el("div", { class: "m-confirm__sign" }, signaturePad(draft.strokes, { label: t("sign_here"), clearLabel: t("sign_clear") })),
  );
  return box;
}

// The confirmation to send with a check-out, or a message saying why it cannot go.
function confirmationFor(visitId) {
  const draft = draftOf(visitId);
  if (draft.method === "pin") {
    return PIN.test(draft.pin) ? { value: { method: "pin", by: draft.by, value: draft.pin } } : { problem: t("pin_format") };
  }
  if (draft.method === "signature") {
    const path = isSignature(draft.strokes) ? toPath(draft.strokes) : "";
    if (!path || path.length > MAX_CHARS) return { problem: t("sign_too_small") };
    return { value: { method: "signature", by: draft.by, value: path } };
  }
  return { value: null };
}

function tick(visitId, code, on) {
  const set = state.ticked.get(visitId) || new Set();
  if (on) set.add(code);
  else set.delete(code);
  state.ticked.set(visitId, set);
}

// --- check-in / check-out ----------------------------------------------------------------

function position() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy * 10) / 10 }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: 15_000, maximumAge: 0 },
    );
  });
}

async function act(stop, kind) {
  toast.important = false; // a new action: what was said about the last one is done
  const items = [...(state.ticked.get(stop.visit_id) || [])];
  if (kind === "check_out" && items.length < stop.items.length) {
    toast(t("tick_items"));
    return;
  }
  const confirmed = kind === "check_out" ? confirmationFor(stop.visit_id) : { value: null };
  if (confirmed.problem) {
    toast(confirmed.problem, { important: true });
    return;
  }
  toast(t("locating"));
  const where = await position();
  if (!where) toast(t("no_fix"));
  const fields = { visit_id: stop.visit_id, kind, position: where };
  if (kind === "check_out") {
    fields.items_done = items;
    if (confirmed.value) fields.confirmation = confirmed.value;
    state.drafts.delete(stop.visit_id);
  }
  const action = newAction(fields);
  // Shown at once, even offline; the server's answer replaces it.
  Object.assign(stop, kind === "check_in"
    ? { checked_in_at: action.occurred_at, status: "in_progress" }
    : { checked_out_at: action.occurred_at });
  saveRoute(config.userId, config.today, state.route);
  render();
  await outbox.add(action);
  if (outbox.pending.length) {
    toast(t("queued"));
  } else {
    toast(t("sent"));
    loadFromServer();
  }
}

function onAnswer(action, answer) {
  const stop = state.route?.stops.find((s) => s.visit_id === action.visit_id);
  if (!stop) return;
  // The route may have been re-read while the action was on its way: keep what it did.
  const stamp = action.kind === "check_in" ? "checked_in_at" : "checked_out_at";
  if (answer.state !== "refused") stop[stamp] = stop[stamp] || action.occurred_at;
  stop.status = answer.visit_status || stop.status;
  if (answer.verification) {
    stop.outcome = answer.verification.outcome;
    stop.reasons = answer.verification.reasons;
  }
  if (answer.confirmation && !answer.confirmation.ok) {
    toast(t(`confirm_${answer.confirmation.reason}`), { important: true });
  }
  saveRoute(config.userId, config.today, state.route);
  render();
}

function onRefused(action, answer) {
  toast(t("refused", { message: answer.message || "" }));
  loadFromServer();
}

function showPending(n) {
  const box = $("m-outbox");
  box.hidden = n === 0;
  box.textContent = t("pending_n", { n });
}

const outbox = new Outbox({ userId: config.userId, url: config.actionsUrl, onAnswer, onRefused, onChange: showPending });

// --- map ---------------------------------------------------------------------------------

function drawMap(stops) {
  const svg = $("m-map");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  if (!stops.length) return;
  const lats = stops.map((s) => s.location[0]);
  const lons = stops.map((s) => s.location[1]);
  const pad = 0.002;
  const [minLat, maxLat] = [Math.min(...lats) - pad, Math.max(...lats) + pad];
  const [minLon, maxLon] = [Math.min(...lons) - pad, Math.max(...lons) + pad];
  const x = (lon) => 20 + ((lon - minLon) / (maxLon - minLon)) * 320;
  const y = (lat) => 160 - ((lat - minLat) / (maxLat - minLat)) * 140;
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", stops.map((s) => `${x(s.location[1])},${y(s.location[0])}`).join(" "));
  line.setAttribute("class", "m-map__line");
  svg.append(line);
  stops.forEach((s, i) => {
    const g = document.createElementNS(ns, "g");
    g.setAttribute("class", `m-map__stop m-map__stop--${s.status}`);
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("cx", x(s.location[1]));
    c.setAttribute("cy", y(s.location[0]));
    c.setAttribute("r", 11);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x(s.location[1]));
    label.setAttribute("y", y(s.location[0]) + 4);
    label.textContent = String(i + 1);
    g.append(c, label);
    svg.append(g);
  });
}

// --- live route changes ------------------------------------------------------------------

function showOpenNotice() {
  const open = (state.route?.notices || []).filter((n) => !n.acknowledged_at);
  if (open.length) banner(open[open.length - 1].id);
}

function banner(noticeId) {
  state.notice = noticeId;
  $("m-banner-text").textContent = t("route_changed");
  $("m-banner").hidden = false;
}

async function acknowledge() {
  if (state.notice === null) return;
  const url = config.ackUrl.replace("{id}", state.notice);
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    credentials: "same-origin",
    body: "{}",
  }).catch(() => null);
  if (response && response.ok) {
    $("m-banner").hidden = true;
    state.notice = null;
    toast(t("acknowledged"));
    loadFromServer();
  } else {
    toast(t("offline"));
  }
}

function connectLive() {
  if (!window.io) return;
  const socket = window.io({ transports: ["websocket", "polling"] });
  const room = `${config.worker.kind}:${config.worker.id}`;
  socket.on("connect", () => {
    socket.emit("join", { room });
    loadFromServer(); // events are notifications, never the record: resync
  });
  socket.on("route_changed", (event) => {
    banner(event.notice_id);
    loadFromServer();
  });
}

// --- online state and start --------------------------------------------------------------

function showNet() {
  const net = $("m-net");
  net.dataset.online = String(navigator.onLine);
  net.textContent = navigator.onLine ? t("online") : t("offline");
}

function start() {
  purge(config.userId, config.today);
  $("m-ack").addEventListener("click", acknowledge);
  $("m-logout").addEventListener("submit", () => {
    clearAll();
    navigator.serviceWorker?.controller?.postMessage("logout");
  });
  window.addEventListener("online", () => { showNet(); loadFromServer(); });
  window.addEventListener("offline", showNet);
  showNet();
  showPending(outbox.pending.length);
  const saved = loadRoute(config.userId, config.today);
  if (saved) { state.route = saved.route; render(); }
  outbox.flush().then(loadFromServer);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register(config.swUrl, { scope: "/" }).catch(() => {});
  if (document.readyState === "complete") connectLive();
  else window.addEventListener("load", connectLive);
}

start();
