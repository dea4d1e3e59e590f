// The dispatcher board: loads one agency's day from the dispatch API, draws the shown plan
// version, and drives planning, edits (always checked first), comparison and publishing.

import { buildModel } from "./board_model.js";
import { axisOf, renderTimeline } from "./board_timeline.js";
import { renderMap } from "./board_map.js";
import {
  fillVersionSelect, renderChecks, renderCompare, renderKpis, renderUnassigned,
  renderVisitDetail, renderWorkload, versionLabel,
} from "./board_panels.js";
import { connectBoard, JobTracker } from "./board_live.js";
import { ApiError, api, el, formatNumber, makeTranslator } from "./board_util.js";
import { setupUrgentForm } from "./board_urgent.js";

const config = JSON.parse(document.getElementById("board-config").textContent);
const t = makeTranslator(JSON.parse(document.getElementById("board-strings").textContent));
const $ = (id) => document.getElementById(id);

const state = {
  day: null,
  version: null,
  model: null,
  selected: null,
  compare: null,
  moved: new Set(),
  jobLimit: 0,
  jobStarted: 0,
  progress: {},
  ticker: null,
  busy: false,
};

const query = config.agencyQuery ? `?${config.agencyQuery}` : "";
const dayUrl = (suffix = "") => `${config.api}/days/${config.date}${suffix}${query}`;
const versionUrl = (id, suffix = "") => `${config.api}/versions/${id}${suffix}${query}`;

// ------------------------------------------------------------------ messages

function say(text, kind = "info") {
  const box = $("board-message");
  box.textContent = text;
  box.dataset.kind = kind;
}

function failure(err) {
  if (err instanceof ApiError && err.status === 0) return t("network_error");
  return t("request_failed", { message: err instanceof ApiError ? err.describe() : String(err) });
}

// ------------------------------------------------------------------ loading

async function loadDay(versionId = null) {
  const day = await api("GET", dayUrl());
  const ids = new Set(day.versions.map((v) => v.id));
  let chosen = versionId ?? (state.version && ids.has(state.version.id) ? state.version.id : null);
  chosen = chosen ?? day.current_version_id;
  state.day = day;
  state.version = chosen ? await api("GET", versionUrl(chosen)) : null;
  if (state.compare && !(ids.has(state.compare.a) && ids.has(state.compare.b))) clearCompare();
  render();
}

async function showVersion(id) {
  state.version = await api("GET", versionUrl(id));
  render();
}

// ------------------------------------------------------------------ drawing

function viewOptions(model) {
  const places = state.selected ? model.placed.get(state.selected) : null;
  const flagged = new Set((state.version?.violations || []).map((v) => v.visit_id).filter(Boolean));
  return {
    t,
    locale: config.locale,
    timezone: config.timezone,
    editable: config.editable,
    tileUrl: config.tileUrl,
    tileAttribution: config.tileAttribution,
    selected: state.selected,
    focusCaregiver: places && places.length ? places[0].caregiver : null,
    moved: state.moved,
    locked: model.locked,
    flagged,
    axis: axisOf(model, config.axis),
    nowS: nowSeconds(),
    onSelect: select,
    onCapOverride: capOverride,
  };
}

function nowSeconds() {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timezone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date());
  const get = (type) => parts.find((p) => p.type === type).value;
  if (`${get("year")}-${get("month")}-${get("day")}` !== config.date) return null;
  return Number(get("hour")) * 3600 + Number(get("minute")) * 60;
}

function render() {
  if (!state.day) return;
  const model = buildModel(state.day, state.version);
  state.model = model;
  const view = viewOptions(model);
  renderTimeline($("timeline"), model, view);
  renderMap($("map"), model, view);
  renderKpis($("kpis"), model, view);
  renderWorkload($("workload"), model, view);
  renderChecks($("checks"), model, view);
  renderUnassigned($("unassigned"), model, view);
  renderCompare($("compare"), model, view, state.compare ? state.compare.result : null);
  renderVisitDetail($("visit-detail"), model, view);
  renderToolbar(model);
  if (config.editable) renderEditControls(model);
  $("map-note").textContent = t("map_note", { caregivers: model.caregivers.size, visits: model.shown.length });
  $("board").dataset.state = model.hasPlan ? "planned" : "empty";
  if (!model.hasPlan && !state.busy) say(t("no_plan"));
}

function renderToolbar(model) {
  const day = state.day;
  const shown = state.version;
  fillVersionSelect($("version-select"), day.versions, shown ? shown.id : null, t, config.timezone);
  const pill = $("version-state");
  if (shown) {
    const published = shown.id === day.published_version_id;
    pill.textContent = published ? t("published") : shown.valid ? t("valid") : t("invalid");
    pill.dataset.kind = published ? "published" : shown.valid ? "valid" : "invalid";
  } else {
    pill.textContent = "";
    delete pill.dataset.kind;
  }
  const publish = $("publish");
  if (publish) {
    publish.disabled = !shown || !shown.valid || shown.id === day.published_version_id || state.busy;
    publish.title = shown && !shown.valid ? t("publish_invalid") : "";
  }
  const planButton = $("plan-day");
  if (planButton) planButton.disabled = state.busy || tracker.active;
  for (const id of ["compare-a", "compare-b"]) {
    const select = $(id);
    const keep = select.value ? Number(select.value) : null;
    const fallback = id === "compare-b" ? shown?.id : day.versions.find((v) => v.id === shown?.parent_id)?.id;
    fillVersionSelect(select, day.versions, keep ?? fallback ?? null, t, config.timezone, { blank: true });
  }
  $("export").hidden = !model.caregivers.size;
}

function renderEditControls(model) {
  const form = $("move-form");
  const visit = state.selected ? model.visits.get(state.selected) : null;
  form.hidden = !visit || !state.version;
  const names = [...model.caregivers.values()];
  const fill = (select, current) => {
    const keep = select.value || current || "";
    select.replaceChildren(el("option", { value: "" }, t("choose_caregiver")),
      ...names.map((c) => el("option", { value: c.ref, selected: c.ref === keep }, c.kind === "volunteer" ? `${c.name} (${t("volunteer")})` : c.name)));
  };
  if (visit) {
    const places = model.placed.get(visit.ref) || [];
    const select = $("move-caregiver");
    if (select.dataset.visit !== visit.ref) select.value = "";
    select.dataset.visit = visit.ref;
    fill(select, places.length ? places[0].caregiver : "");
    const locked = model.locked.has(visit.ref);
    $("lock-toggle").textContent = locked ? t("unlock") : t("lock");
    $("lock-toggle").disabled = !locked && !places.length;
  }
  fill($("absent-caregiver"), "");
}

function select(ref) {
  state.selected = state.selected === ref ? null : ref;
  $("move-start").value = "";
  render();
}

// ------------------------------------------------------------------ planning jobs

const tracker = new JobTracker(config.api, config.agencyQuery, {
  onProgress: showProgress,
  onEnd: jobEnded,
});

// The solver reports only when it finds a better plan, which may take seconds: the
// clock and the bar tick locally in between, never behind the solver's own figure.
const TICK_MS = 250;

function showProgress(p) {
  const box = $("job");
  if (!box) return;
  state.progress = { ...state.progress, ...p };
  box.hidden = false;
  const shown = state.progress;
  const limit = state.jobLimit || 1;
  const local = (performance.now() - state.jobStarted) / 1000;
  const elapsed = Math.min(limit, Math.max(Number(shown.elapsed_s || 0), shown.status === "queued" ? 0 : local));
  $("job-fill").style.width = `${Math.min(100, (100 * elapsed) / limit)}%`;
  const parts = [shown.status === "queued" ? t("job_queued") : t("job_running"),
    t("job_elapsed", { elapsed: formatNumber(elapsed, config.locale, 1), limit })];
  if (shown.visits) parts.push(t("job_assigned", { assigned: shown.assigned, visits: shown.visits }));
  if (shown.objective !== null && shown.objective !== undefined) {
    // The solver's objective is the plan's cost in sixtieths of the format's units.
    parts.push(t("job_cost", { cost: formatNumber(shown.objective / 60, config.locale) }));
  }
  $("job-text").textContent = parts.join(" · ");
}

function startJob(jobId, limit, text) {
  state.jobLimit = limit;
  state.jobStarted = performance.now();
  state.progress = { status: "queued", elapsed_s: 0 };
  window.clearInterval(state.ticker);
  state.ticker = window.setInterval(() => showProgress({}), TICK_MS);
  tracker.start(jobId);
  showProgress({});
  $("board").dataset.job = "running";
  say(text);
  render();
}

async function jobEnded(job) {
  window.clearInterval(state.ticker);
  $("job").hidden = true;
  delete $("board").dataset.job;
  try {
    if (job.status === "succeeded") {
      await loadDay(job.plan_version_id ?? null);
      const v = state.day.versions.find((x) => x.id === job.plan_version_id);
      say(t("job_succeeded", { number: v ? v.number : "?" }), "ok");
    } else {
      await loadDay();
      say(job.status === "cancelled" ? t("job_cancelled") : t("job_failed", { message: job.error || "" }),
        job.status === "cancelled" ? "info" : "error");
    }
  } catch (err) {
    say(failure(err), "error");
  }
}

async function planDay() {
  const limit = Number($("time-limit").value);
  try {
    const { job_id: jobId } = await api("POST", dayUrl("/plan"), { time_limit_s: limit });
    startJob(jobId, limit, t("job_started", { job: jobId.slice(0, 8) }));
  } catch (err) {
    say(failure(err), "error");
  }
}

// ------------------------------------------------------------------ edits and publishing

async function withBusy(action) {
  if (state.busy) return;
  state.busy = true;
  render();
  try {
    await action();
  } catch (err) {
    say(failure(err), "error");
  } finally {
    state.busy = false;
    render();
  }
}

function postEdit(body) {
  if (!state.version) {
    say(t("need_version"), "error");
    return Promise.resolve();
  }
  return withBusy(async () => {
    say(t("edit_checking"));
    const result = await api("POST", versionUrl(state.version.id, "/edits"), { ...body, mode: "check" });
    if (result.job_id) {
      startJob(result.job_id, 20, t("edit_reoptimise", { job: result.job_id.slice(0, 8) }));
      return;
    }
    await loadDay(result.plan_version_id);
    const number = state.version ? state.version.number : "?";
    if (result.valid) say(t("edit_valid", { number }), "ok");
    else say(t("edit_invalid", { number, n: result.violations.length }), "error");
  });
}

function moveSelected(event) {
  event.preventDefault();
  const caregiverRef = $("move-caregiver").value;
  if (!caregiverRef || !state.selected) return;
  const places = state.model.placed.get(state.selected) || [];
  const start = $("move-start").value;
  if (!start && places.some((p) => p.caregiver === caregiverRef)) {
    say(t("move_same"), "error");
    return;
  }
  const body = { action: "move", visit_ref: state.selected, caregiver_ref: caregiverRef };
  if (start) body.start = start;
  postEdit(body);
}

function toggleLock() {
  const visit = state.model.visits.get(state.selected);
  if (!visit) return;
  postEdit({ action: state.model.locked.has(visit.ref) ? "unlock" : "lock", visit_ref: visit.ref });
}

function absenceBody() {
  const form = $("absent-form");
  if (!form.reportValidity()) return null;
  return {
    caregiver_ref: $("absent-caregiver").value,
    from: $("absent-from").value || null,
    reason: $("absent-reason").value.trim(),
  };
}

function markAbsent(event) {
  event.preventDefault();
  const body = absenceBody();
  if (body) postEdit({ action: "absent", ...body });
}

function repairDay() {
  const body = absenceBody();
  if (!body) return;
  const who = state.model.caregivers.get(body.caregiver_ref)?.name || body.caregiver_ref;
  if (!window.confirm(t("confirm_repair", { who }))) return;
  withBusy(async () => {
    const { job_id: jobId } = await api("POST", dayUrl("/repair"), body);
    startJob(jobId, 20, t("repair_started", { who, job: jobId.slice(0, 8) }));
  });
}

function publish() {
  const shown = state.version;
  if (!shown || !shown.valid) return;
  if (!window.confirm(t("confirm_publish", { number: shown.number }))) return;
  withBusy(async () => {
    const result = await api("POST", versionUrl(shown.id, "/publish"), {});
    const who = result.notified.map((ref) => state.model.caregivers.get(ref)?.name || ref);
    say(t("publish_done", { number: shown.number, who: who.length ? who.join("、") : t("publish_nobody") }), "ok");
    await loadDay(shown.id);
  });
}

function capOverride(visit) {
  const reason = window.prompt(t("cap_override_reason"));
  if (!reason || !reason.trim()) return;
  withBusy(async () => {
    await api("POST", `${config.api}/visits/${visit.id}/cap-override${query}`, { reason: reason.trim() });
    await loadDay();
    say(t("cap_override_done"), "ok");
  });
}

// ------------------------------------------------------------------ comparison

async function compareVersions(event) {
  event.preventDefault();
  const a = Number($("compare-a").value);
  const b = Number($("compare-b").value);
  if (!a || !b || a === b) {
    say(t("compare_need_two"), "error");
    return;
  }
  try {
    const result = await api("GET", `${config.api}/versions/${a}/compare/${b}${query}`);
    state.compare = { a, b, result };
    state.moved = new Set(result.moved.map((m) => m.visit_ref));
    if (state.version?.id !== b) await showVersion(b);
    else render();
    $("compare-clear").hidden = false;
  } catch (err) {
    say(failure(err), "error");
  }
}

function clearCompare() {
  state.compare = null;
  state.moved = new Set();
  $("compare-clear").hidden = true;
}

// ------------------------------------------------------------------ live events

function onPublished() {
  loadDay().catch((err) => say(failure(err), "error"));
}

function onAcknowledged(event) {
  if (!state.day) return;
  const ack = state.day.acks.find((a) => a.notice_id === event.notice_id);
  if (ack) {
    ack.acknowledged_at = event.acknowledged_at;
    ack.overdue = false;
    render();
  } else {
    onPublished();
  }
}

function onJobFinished(event) {
  if (tracker.active && event.job_id === tracker.jobId) tracker.finished(event);
  else if (tracker.remember(event) && event.status === "succeeded") onPublished();
}

function onVisitStatus(event) {
  const visit = state.day && state.day.visits.find((v) => v.ref === event.visit_ref);
  if (!visit || visit.status === event.status) return;
  visit.status = event.status;
  render();
}

let wasLive = null;

function setLive(on) {
  $("live").dataset.live = on ? "on" : "off";
  $("live").title = on ? t("live_on") : t("live_off");
  // Events sent while the socket was down are not replayed (they are notifications, not
  // the record): back in the room, reload the day from the API.
  if (on && wasLive === false) {
    loadDay(state.version ? state.version.id : null).catch(() => say(t("live_off"), "error"));
  }
  if (on || wasLive !== null) wasLive = on;
}

// ------------------------------------------------------------------ start

function wire() {
  $("version-select").addEventListener("change", (e) => {
    showVersion(Number(e.target.value)).catch((err) => say(failure(err), "error"));
  });
  $("compare-form").addEventListener("submit", compareVersions);
  $("compare-clear").addEventListener("click", () => {
    clearCompare();
    render();
  });
  const agencySelect = $("agency-select");
  if (agencySelect) agencySelect.addEventListener("change", () => agencySelect.form.submit());
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.selected && !(e.target instanceof HTMLInputElement)) select(state.selected);
  });
  if (!config.editable) return;
  $("plan-day").addEventListener("click", planDay);
  $("job-cancel").addEventListener("click", () => tracker.cancel().catch((err) => say(failure(err), "error")));
  $("publish").addEventListener("click", publish);
  $("move-form").addEventListener("submit", moveSelected);
  $("lock-toggle").addEventListener("click", toggleLock);
  $("absent-form").addEventListener("submit", markAbsent);
  $("absent-repair").addEventListener("click", repairDay);
  setupUrgentForm({
    t, config, say, failure,
    submit: (body) => postEdit({ action: "urgent", ...body }),
  });
}

async function start() {
  if (!config.agency) {
    say(t("no_agency"), "error");
    return;
  }
  wire();
  say(t("loading"));
  connectBoard(`board:${config.agency.id}:${config.date}`, {
    job_progress: (e) => tracker.progress(e),
    job_finished: onJobFinished,
    plan_published: onPublished,
    notice_acknowledged: onAcknowledged,
    visit_status: onVisitStatus,
  }, setLive);
  try {
    await loadDay();
    if (state.version) say(versionLabel(state.day.versions.find((v) => v.id === state.version.id) || state.version, t, config.timezone));
  } catch (err) {
    $("board").dataset.state = "error";
    say(t("load_failed", { message: err instanceof ApiError ? err.describe() : String(err) }), "error");
  }
}

start();
