// The supervision dashboard: reads one month's KPIs from the API and shows them as tiles
// and Chart.js charts, each chart with a table of the same figures for screen readers and
// for copying. Money arrives in fen and is shown in yuan; rates arrive as fractions.

import { ApiError, api, el, makeTranslator } from "./board_util.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("sv-config").textContent);
const t = makeTranslator(JSON.parse($("sv-strings").textContent));
const root = $("supervision");

const COLOURS = {
  fulfilment: "#0f766e",
  onTime: "#38bdf8",
  anomalies: "#b54708",
  fund: "#0f766e",
  coPay: "#f97316",
  travel: "#0369a1",
  continuity: "#7c3aed",
};

const percentFormat = new Intl.NumberFormat(config.locale, {
  style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1,
});
const percentAxisFormat = new Intl.NumberFormat(config.locale, {
  style: "percent", maximumFractionDigits: 0,
});
const yuanFormat = new Intl.NumberFormat(config.locale, {
  style: "currency", currency: config.currency, currencyDisplay: "narrowSymbol",
});
const yuanAxisFormat = new Intl.NumberFormat(config.locale, {
  style: "currency", currency: config.currency, currencyDisplay: "narrowSymbol",
  minimumFractionDigits: 0, maximumFractionDigits: 0,
});
const integerFormat = new Intl.NumberFormat(config.locale, { maximumFractionDigits: 0 });
const minutesFormat = new Intl.NumberFormat(config.locale, {
  minimumFractionDigits: 1, maximumFractionDigits: 1,
});
const monthFormat = new Intl.DateTimeFormat(config.locale, {
  year: "numeric", month: "short", timeZone: "UTC",
});
const dayFormat = new Intl.DateTimeFormat(config.locale, { dateStyle: "long", timeZone: "UTC" });

const fmt = {
  percent: (rate) => (rate === null || rate === undefined ? t("none") : percentFormat.format(rate)),
  yuan: (fen) => yuanFormat.format(fen / 100),
  integer: (n) => integerFormat.format(n),
  minutes: (m) => (m === null || m === undefined ? t("none") : minutesFormat.format(m)),
  month: (yyyyMm) => monthFormat.format(new Date(`${yyyyMm}-01T00:00:00Z`)),
  day: (iso) => dayFormat.format(new Date(`${iso}T00:00:00Z`)),
};

// Chart values: percentages 0-100, yuan; null where there is nothing to show.
const asPercent = (rate) => (rate === null || rate === undefined ? null : rate * 100);
const asYuan = (fen) => fen / 100;

const charts = new Map();

// ------------------------------------------------------------------ state

function setState(state, text = "") {
  root.dataset.state = state;
  $("sv-charts").setAttribute("aria-busy", state === "loading" ? "true" : "false");
  $("sv-status-text").textContent = text;
  $("sv-error").hidden = state !== "error";
}

function failure(err) {
  if (err instanceof ApiError && err.status === 0) return t("network_error");
  return t("load_failed", { message: err instanceof ApiError ? err.describe() : String(err) });
}

async function load() {
  setState("loading", t("loading"));
  let data;
  try {
    data = await api("GET", config.api);
  } catch (err) {
    $("sv-error-text").textContent = failure(err);
    setState("error", "");
    return;
  }
  render(data);
  const note = data.through ? t("counted_through", { day: fmt.day(data.through) }) : t("nothing_over");
  setState("ready", note);
}

// ------------------------------------------------------------------ tiles

function tile(key, label, value, raw, hint, kind = "") {
  return el("div", { class: `sv-tile${kind ? ` sv-tile--${kind}` : ""}`, dataset: { kpi: key } },
    el("dt", { text: label }),
    el("dd", { dataset: { value: raw === null || raw === undefined ? "" : String(raw) }, text: value }),
    el("p", { class: "sv-tile__hint", text: hint }));
}

function renderTiles(data) {
  const f = data.total;
  const month = data.spending[data.spending.length - 1];
  const travel = f.travel.min_per_visit;
  $("sv-tiles").replaceChildren(
    tile("fulfilment", t("tile_fulfilment"), fmt.percent(f.fulfilment.rate), f.fulfilment.rate,
      t("tile_fulfilment_hint", {
        verified: fmt.integer(f.fulfilment.verified), due: fmt.integer(f.fulfilment.due),
      })),
    tile("on_time", t("tile_on_time"), fmt.percent(f.on_time.rate), f.on_time.rate,
      t("tile_on_time_hint", {
        on_time: fmt.integer(f.on_time.on_time), verified: fmt.integer(f.on_time.verified),
        grace: data.grace_min,
      })),
    tile("travel", t("tile_travel"),
      travel === null ? t("none") : t("tile_travel_value", { min: fmt.minutes(travel) }), travel,
      f.travel.days ? t("tile_travel_hint", { days: fmt.integer(f.travel.days) }) : t("tile_travel_none")),
    tile("continuity", t("tile_continuity"), fmt.percent(f.continuity.rate), f.continuity.rate,
      t("tile_continuity_hint", {
        by: fmt.integer(f.continuity.by_preferred), with: fmt.integer(f.continuity.with_preferred),
      })),
    tile("anomalies", t("tile_anomalies"), fmt.integer(f.anomalies), f.anomalies,
      t("tile_anomalies_hint"), f.anomalies ? "warn" : ""),
    tile("fund", t("tile_fund"), fmt.yuan(month.fund_fen), month.fund_fen,
      t("tile_fund_hint", { visits: fmt.integer(month.visits) }), "money"),
    tile("co_pay", t("tile_co_pay"), fmt.yuan(month.co_pay_fen), month.co_pay_fen,
      t("tile_co_pay_hint"), "money"),
  );
}

// ------------------------------------------------------------------ tables

function table(key, columns, rows, footer = null) {
  const cells = (values, tag) => values.map((v, i) => el(i === 0 ? "th" : tag,
    i === 0 ? { scope: "row" } : {}, v));
  return el("table", { class: "sv-table" },
    el("caption", { id: `sv-${key}-table-caption`, text: $(`sv-${key}-title`).textContent }),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", text: c })))),
    el("tbody", {}, rows.map((r) => el("tr", {}, cells(r, "td")))),
    footer ? el("tfoot", {}, el("tr", {}, cells(footer, "td"))) : null);
}

function renderTables(data) {
  const agencies = data.agencies;
  const withTotal = agencies.length > 1;
  const total = (row) => (withTotal ? [t("total"), ...row(data.total)] : null);
  const fulfilment = (a) => [
    fmt.integer(a.fulfilment.due), fmt.integer(a.fulfilment.verified),
    fmt.integer(a.fulfilment.missed), fmt.integer(a.fulfilment.exception),
    fmt.integer(a.fulfilment.rejected), fmt.integer(a.fulfilment.open),
    fmt.integer(a.fulfilment.cancelled), fmt.percent(a.fulfilment.rate),
    fmt.percent(a.on_time.rate),
  ];
  $("sv-fulfilment-table").replaceChildren(table("fulfilment", [
    t("col_agency"), t("col_due"), t("col_verified"), t("col_missed"), t("col_exception"),
    t("col_rejected"), t("col_open"), t("col_cancelled"), t("col_fulfilment"), t("col_on_time"),
  ], agencies.map((a) => [a.name, ...fulfilment(a)]), total(fulfilment)));

  const anomalies = (a) => [fmt.integer(a.anomalies)];
  $("sv-anomalies-table").replaceChildren(table("anomalies", [t("col_agency"), t("col_anomalies")],
    agencies.map((a) => [a.name, ...anomalies(a)]), total(anomalies)));

  $("sv-spending-table").replaceChildren(table("spending", [
    t("col_month"), t("col_visits"), t("col_price"), t("col_fund"), t("col_co_pay"),
  ], data.spending.map((s) => [
    fmt.month(s.month), fmt.integer(s.visits), fmt.yuan(s.price_fen), fmt.yuan(s.fund_fen),
    fmt.yuan(s.co_pay_fen),
  ])));

  const travel = (a) => [
    fmt.integer(a.travel.days), fmt.integer(Math.round(a.travel.travel_s / 60)),
    fmt.integer(a.travel.assigned), fmt.minutes(a.travel.min_per_visit),
  ];
  $("sv-travel-table").replaceChildren(table("travel", [
    t("col_agency"), t("col_days"), t("col_travel_min"), t("col_assigned"), t("col_per_visit"),
  ], agencies.map((a) => [a.name, ...travel(a)]), total(travel)));

  const continuity = (a) => [
    fmt.integer(a.continuity.with_preferred), fmt.integer(a.continuity.by_preferred),
    fmt.percent(a.continuity.rate),
  ];
  $("sv-continuity-table").replaceChildren(table("continuity", [
    t("col_agency"), t("col_with_preferred"), t("col_by_preferred"), t("col_continuity"),
  ], agencies.map((a) => [a.name, ...continuity(a)]), total(continuity)));
}

// ------------------------------------------------------------------ charts

function percentAxis() {
  return { beginAtZero: true, max: 100, ticks: { callback: (v) => percentAxisFormat.format(v / 100) } };
}

function bar(label, data, colour, extra = {}) {
  return { label, data, backgroundColor: colour, borderRadius: 3, maxBarThickness: 48, ...extra };
}

function draw(key, type, labels, datasets, scales, tooltip) {
  charts.get(key)?.destroy();
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const chart = new window.Chart($(`chart-${key}`), {
    type,
    data: { labels, datasets },
    options: {
      locale: config.locale,
      responsive: true,
      maintainAspectRatio: false,
      animation: reduced ? false : { duration: 300 },
      scales,
      plugins: {
        legend: { display: datasets.length > 1, position: "bottom" },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${tooltip(item.raw, item)}` } },
      },
    },
  });
  charts.set(key, chart);
}

function renderCharts(data) {
  const names = data.agencies.map((a) => a.name);
  const percentTip = (v) => (v === null ? t("none") : percentFormat.format(v / 100));

  draw("fulfilment", "bar", names, [
    bar(t("series_fulfilment"), data.agencies.map((a) => asPercent(a.fulfilment.rate)), COLOURS.fulfilment),
    bar(t("series_on_time"), data.agencies.map((a) => asPercent(a.on_time.rate)), COLOURS.onTime),
  ], { y: percentAxis() }, percentTip);

  draw("anomalies", "bar", names, [
    bar(t("series_anomalies"), data.agencies.map((a) => a.anomalies), COLOURS.anomalies),
  ], { y: { beginAtZero: true, ticks: { precision: 0 } } }, (v) => fmt.integer(v));

  draw("spending", "bar", data.spending.map((s) => fmt.month(s.month)), [
    bar(t("series_fund"), data.spending.map((s) => asYuan(s.fund_fen)), COLOURS.fund, { stack: "money" }),
    bar(t("series_co_pay"), data.spending.map((s) => asYuan(s.co_pay_fen)), COLOURS.coPay, { stack: "money" }),
  ], {
    x: { stacked: true },
    y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => yuanAxisFormat.format(v) } },
  }, (v) => yuanFormat.format(v));

  draw("travel", "bar", names, [
    bar(t("series_travel"), data.agencies.map((a) => a.travel.min_per_visit), COLOURS.travel),
  ], {
    y: { beginAtZero: true, title: { display: true, text: t("axis_minutes") } },
  }, (v) => (v === null ? t("none") : t("tile_travel_value", { min: fmt.minutes(v) })));

  draw("continuity", "bar", names, [
    bar(t("series_continuity"), data.agencies.map((a) => asPercent(a.continuity.rate)), COLOURS.continuity),
  ], { y: percentAxis() }, percentTip);
}

function render(data) {
  renderTiles(data);
  renderTables(data);
  if (window.Chart) renderCharts(data);
}

$("sv-retry").addEventListener("click", () => load());
load();
