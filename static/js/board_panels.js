// The board's side and lower panels: key figures, working time per caregiver, the
// checker's findings, unassigned visits, a comparison of two versions, the selected visit
// and the version pickers.

import { clock, el, formatNumber, localClock } from "./board_util.js";
import { windowStart } from "./board_model.js";

/** The optimiser's and checker's texts name caregivers and visits by reference
 * (cg-7, v-12): show names instead, which is what a dispatcher knows them by. */
export function withNames(text, model) {
  return String(text || "").replace(/\b(cg|vol|v)-\d+\b/g, (ref) => {
    const who = model.caregivers.get(ref);
    if (who) return who.name;
    const visit = model.visits.get(ref);
    return visit ? visit.person_name : ref;
  });
}

function figure(key, label, value, hint) {
  return el("div", { class: "kpi", dataset: { kpi: key } },
    el("dt", {}, label),
    el("dd", {}, value),
    hint ? el("p", { class: "kpi__hint" }, hint) : null);
}

export function renderKpis(container, model, view) {
  const { t, locale } = view;
  const detail = model.version ? model.version.kpis_detail : null;
  if (!detail) {
    container.replaceChildren();
    return;
  }
  const kpis = model.version.plan.kpis;
  const byPriority = Object.entries(detail.assigned_by_priority || {}).sort();
  const priorityText = byPriority.map(([p, [a, total]]) => t("kpi_by_priority", { p, a, t: total })).join(" · ");
  const spread = detail.work_min_spread || { min: 0, max: 0, stdev: 0 };
  container.replaceChildren(el("dl", { class: "kpis__list" },
    figure("assigned", t("kpi_assigned"), `${kpis.assigned} / ${kpis.visits}`, priorityText),
    figure("travel", t("kpi_travel"), t("kpi_travel_h", { h: formatNumber(detail.travel_h, locale, 1) })),
    figure("continuity", t("kpi_continuity"), `${formatNumber(100 * detail.continuity_rate, locale, 0)}%`, t("kpi_continuity_hint")),
    figure("spread", t("kpi_spread"), t("kpi_spread_value", {
      min: Math.round(spread.min), max: Math.round(spread.max), stdev: formatNumber(spread.stdev, locale, 0),
    }))));
}

export function renderWorkload(container, model, view) {
  const { t } = view;
  const detail = model.version ? model.version.kpis_detail : null;
  const minutes = detail ? detail.work_min_by_caregiver || {} : {};
  const refs = [...model.caregivers.keys()].filter((ref) => ref in minutes);
  if (!refs.length) {
    container.replaceChildren(el("p", { class: "muted" }, t(detail ? "workload_empty" : "no_plan")));
    return;
  }
  const most = Math.max(...refs.map((ref) => minutes[ref]), 1);
  const bars = refs.map((ref) => {
    const c = model.caregivers.get(ref);
    const value = minutes[ref];
    return el("li", {
      class: `bars__row${view.focusCaregiver === ref ? " bars__row--focus" : ""}`,
      dataset: { ref },
      title: `${c.name}: ${value} ${t("minutes")}`,
    },
    el("span", { class: "bars__name" }, c.name),
    el("span", { class: "bars__track" },
      el("span", { class: "bars__fill", style: `width:${(100 * value) / most}%;background:${c.colour}` })),
    el("span", { class: "bars__value" }, `${(value / 60).toFixed(1)} ${t("hours_short")}`));
  });
  container.replaceChildren(el("ol", { class: "bars" }, bars));
}

export function renderChecks(container, model, view) {
  const { t } = view;
  if (!model.version) {
    container.replaceChildren(el("p", { class: "muted" }, t("no_plan")));
    return;
  }
  const violations = model.version.violations || [];
  if (!violations.length) {
    container.replaceChildren(el("p", { class: "checks__ok" }, t("checks_ok")));
    return;
  }
  const items = violations.map((v) => {
    const key = `violation_${v.code}`;
    const label = t(key) === key ? t("violation_other") : t(key);
    const ref = v.visit_id ? String(v.visit_id) : null;
    const visitRef = ref && !ref.startsWith("v-") ? `v-${ref}` : ref;
    return el("li", { class: "checks__item", dataset: { code: v.code } },
      el("strong", {}, label),
      " ",
      visitRef && model.visits.has(visitRef)
        ? el("button", { type: "button", class: "linkish", onclick: () => view.onSelect(visitRef) }, model.visits.get(visitRef).person_name)
        : null,
      el("span", { class: "checks__message" }, withNames(v.message, model)));
  });
  container.replaceChildren(
    el("p", { class: "checks__bad" }, t("checks_n", { n: violations.length })),
    el("ul", { class: "checks__list" }, items));
}

export function renderUnassigned(container, model, view) {
  const { t } = view;
  const overCap = model.day.visits.filter((v) => v.over_cap);
  const rows = model.unassigned
    .filter((u) => u.visit)
    .sort((a, b) => a.visit.priority - b.visit.priority || windowStart(a.visit) - windowStart(b.visit));
  const items = rows.map((u) => visitLine(u.visit, withNames(u.reason, model), view));
  for (const v of overCap) {
    const line = visitLine(v, t("over_cap", { reason: v.over_cap }), view);
    if (view.editable) {
      line.append(el("button", {
        type: "button", class: "button button--quiet button--small",
        onclick: () => view.onCapOverride(v),
      }, t("cap_override")));
    }
    items.push(line);
  }
  if (!model.hasPlan && !overCap.length) {
    container.replaceChildren(el("p", { class: "muted" }, t("no_plan")));
    return;
  }
  const head = items.length
    ? el("p", { class: "unassigned__count" }, t("unassigned_n", { n: items.length }))
    : el("p", { class: "checks__ok" }, t("unassigned_none"));
  container.replaceChildren(head, items.length ? el("ul", { class: "vlist" }, items) : "");
}

function visitLine(visit, reason, view) {
  const { t } = view;
  return el("li", {
    class: `vlist__item vlist__item--p${visit.priority}${view.selected === visit.ref ? " vlist__item--selected" : ""}`,
    dataset: { ref: visit.ref },
  },
  el("button", { type: "button", class: "linkish vlist__name", onclick: () => view.onSelect(visit.ref) }, visit.person_name),
  el("span", { class: "vlist__meta" },
    `${visit.windows.map((w) => w.join("–")).join(", ")} · ${t("duration_min", { n: visit.duration_min })} · P${visit.priority}`),
  el("span", { class: "vlist__reason" }, reason));
}

export function renderCompare(container, model, view, result) {
  const { t } = view;
  if (!result) {
    container.replaceChildren();
    return;
  }
  if (!result.moved.length) {
    container.replaceChildren(el("p", { class: "checks__ok" }, t("compare_none")));
    return;
  }
  const name = (ref) => (ref ? model.caregivers.get(ref)?.name || ref : t("unassigned"));
  const items = result.moved.map((m) => {
    const visit = model.visits.get(m.visit_ref);
    const from = `${name(m.from)}${m.from_start ? ` ${m.from_start.slice(0, 5)}` : ""}`;
    const to = `${name(m.to)}${m.to_start ? ` ${m.to_start.slice(0, 5)}` : ""}`;
    return el("li", { class: "vlist__item", dataset: { ref: m.visit_ref } },
      el("button", { type: "button", class: "linkish vlist__name", onclick: () => view.onSelect(m.visit_ref) },
        visit ? visit.person_name : m.visit_ref),
      el("span", { class: "vlist__meta" }, t("compare_from_to", { from, to })));
  });
  container.replaceChildren(
    el("p", {}, t("compare_n", { n: result.moved.length, same: result.unchanged })),
    el("ul", { class: "vlist vlist--compare" }, items));
}

export function renderVisitDetail(container, model, view) {
  const { t } = view;
  const visit = view.selected ? model.visits.get(view.selected) : null;
  if (!visit) {
    container.replaceChildren(el("p", { class: "muted" }, t("select_a_visit")));
    return;
  }
  const places = model.placed.get(visit.ref) || [];
  const assigned = places.length
    ? places.map((p) => `${model.caregivers.get(p.caregiver)?.name || p.caregiver} ${clock(p.start)}–${clock(p.end)}`).join(", ")
    : t("unassigned");
  const preferred = visit.preferred ? model.caregivers.get(visit.preferred)?.name || visit.preferred : null;
  const rows = [
    [t("service"), `${visit.service_item.name} (${visit.service_item.code})`],
    [t("window"), `${visit.windows.map((w) => w.join("–")).join(", ")} · ${t("duration_min", { n: visit.duration_min })}`],
    [t("assigned_to"), assigned],
    [t("status"), t(`status_${visit.status}`)],
    [t("address"), visit.address],
  ];
  if (preferred) rows.push([t("preferred"), preferred]);
  if (visit.skills.length) rows.push([t("skills"), visit.skills.join(", ")]);
  if (visit.over_cap) rows.push(["", t("over_cap", { reason: visit.over_cap })]);
  const tags = [
    el("span", { class: `tag tag--p${visit.priority}` }, t(`priority_${visit.priority}`)),
    visit.staff > 1 ? el("span", { class: "tag" }, t("staff_2")) : null,
    model.locked.has(visit.ref) ? el("span", { class: "tag tag--locked" }, t("locked")) : null,
    view.moved.has(visit.ref) ? el("span", { class: "tag tag--moved" }, t("moved")) : null,
  ];
  container.replaceChildren(
    el("p", { class: "visit-detail__name" }, visit.person_name, " ", tags),
    el("dl", { class: "facts" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
}

export function versionLabel(v, t, timezone) {
  const parts = [t("version_label", { number: v.number, kind: t(`kind_${v.kind}`) })];
  parts.push(v.valid ? t("valid") : t("invalid"));
  if (v.published_at) parts.push(`${t("published")} ${localClock(v.published_at, timezone)}`);
  return parts.join(" · ");
}

export function fillVersionSelect(select, versions, chosen, t, timezone, { blank = false } = {}) {
  const options = [...versions].sort((a, b) => b.number - a.number)
    .map((v) => el("option", { value: v.id, selected: v.id === chosen }, versionLabel(v, t, timezone)));
  select.replaceChildren(...(blank ? [el("option", { value: "" }, "—")] : []), ...options);
  select.disabled = versions.length === 0;
}
