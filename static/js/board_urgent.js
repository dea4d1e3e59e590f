// The "add an urgent visit" form: find a person of the agency, pick a service from their
// approved care plan, set the window, and hand the edit to the board (checked first).

import { api, el } from "./board_util.js";

export function setupUrgentForm({ t, config, say, failure, submit }) {
  const $ = (id) => document.getElementById(id);
  const form = $("urgent-form");
  const people = $("urgent-person");
  const items = $("urgent-item");
  let serviceNames = null;
  let planItems = new Map();

  async function services() {
    if (serviceNames) return serviceNames;
    const page = await api("GET", `${config.apiRoot}/service-items?per_page=200`);
    serviceNames = new Map(page.items.map((s) => [s.id, s]));
    return serviceNames;
  }

  async function search() {
    const q = $("urgent-q").value.trim();
    if (!q) return;
    try {
      const page = await api("GET", `${config.apiRoot}/persons?status=active&per_page=20&q=${encodeURIComponent(q)}`);
      people.replaceChildren(...page.items.map((p) => el("option", { value: p.id }, `${p.name} · ${p.district} · ${p.address}`)));
      people.hidden = page.items.length === 0;
      if (!page.items.length) say(t("urgent_search_empty"), "error");
      else {
        people.selectedIndex = 0;
        await loadItems();
      }
    } catch (err) {
      say(failure(err), "error");
    }
  }

  async function loadItems() {
    const personId = Number(people.value);
    planItems = new Map();
    items.replaceChildren(el("option", { value: "" }, t("urgent_pick_item")));
    if (!personId) return;
    try {
      const [plans, names] = await Promise.all([
        api("GET", `${config.apiRoot}/plans?person_id=${personId}&status=approved&per_page=20`),
        services(),
      ]);
      for (const plan of plans.items) {
        for (const item of plan.items) {
          const service = names.get(item.service_item_id);
          const name = service ? (config.locale === "en" ? service.name_en : service.name_zh) : `#${item.service_item_id}`;
          planItems.set(String(item.id), { item, service });
          items.append(el("option", { value: item.id }, `${name} · ${item.windows.map((w) => w.join("–")).join(", ")}`));
        }
      }
      if (!planItems.size) say(t("urgent_no_plan"), "error");
    } catch (err) {
      say(failure(err), "error");
    }
  }

  function itemChosen() {
    const chosen = planItems.get(items.value);
    if (!chosen) return;
    const { item, service } = chosen;
    $("urgent-duration").value = item.duration_min || (service && service.standard_min) || 30;
    if (item.windows.length) {
      $("urgent-from").value = item.windows[0][0];
      $("urgent-to").value = item.windows[0][1];
    }
  }

  $("urgent-search").addEventListener("click", search);
  $("urgent-q").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      search();
    }
  });
  people.addEventListener("change", loadItems);
  items.addEventListener("change", itemChosen);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!Number(people.value)) {
      say(t("urgent_pick_person"), "error");
      return;
    }
    if (!form.reportValidity()) return;
    submit({
      person_id: Number(people.value),
      plan_item_id: Number(items.value),
      windows: [[$("urgent-from").value, $("urgent-to").value]],
      duration_min: Number($("urgent-duration").value),
      priority: Number($("urgent-priority").value),
    });
  });
}
