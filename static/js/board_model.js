// What the drawings need, derived once from the day's data and the shown plan version:
// lookups by reference, each visit's caregivers and times, and the travel legs of routes.

import { haversineMetres, routeColour, toSeconds } from "./board_util.js";

// The optimiser's default speeds (careroute.day/1); used only to split a route's known
// total travel time between its legs for drawing, so exact values matter little.
const SPEEDS_KMH = { walk: 4.5, ebike: 15, car: 25 };
const DETOUR = 1.3;
const OPEN = new Set(["planned", "assigned"]);

export function buildModel(day, version) {
  const caregivers = new Map();
  day.caregivers.forEach((c, index) => caregivers.set(c.ref, { ...c, colour: routeColour(index) }));
  const visits = new Map(day.visits.map((v) => [v.ref, v]));
  const plan = version ? version.plan : null;
  const routes = new Map();
  const placed = new Map(); // visit ref -> [{caregiver, start, end, arrival}]
  for (const route of plan ? plan.routes : []) {
    const stops = route.stops.map((s) => ({
      ref: s.visit_id,
      arrival: toSeconds(s.arrival),
      start: toSeconds(s.start),
      end: toSeconds(s.end),
    }));
    const breaks = (route.breaks || []).map((b) => ({ start: toSeconds(b.start), end: toSeconds(b.end) }));
    const entry = { ...route, stops, breaks };
    routes.set(route.caregiver_id, entry);
    for (const stop of stops) {
      if (!placed.has(stop.ref)) placed.set(stop.ref, []);
      placed.get(stop.ref).push({ caregiver: route.caregiver_id, ...stop });
    }
  }
  for (const route of routes.values()) {
    route.legs = travelLegs(route, caregivers.get(route.caregiver_id), visits);
  }
  const unassigned = plan ? plan.unassigned.map((u) => ({ ...u, visit: visits.get(u.visit_id) })) : [];
  // The day lists every visit of the date; the drawings show those the plan is about
  // (or, before any plan, the ones still to be planned), not cancelled or missed ones.
  const inPlan = new Set([...placed.keys(), ...unassigned.map((u) => u.visit_id)]);
  const shown = [...visits.values()].filter((v) => (plan ? inPlan.has(v.ref) : OPEN.has(v.status)));
  const locked = new Set(version && version.locks
    ? version.locks.map((lock) => lock.visit_id)
    : day.visits.filter((v) => v.locked).map((v) => v.ref));
  return {
    day, version, caregivers, visits, shown, routes, placed, unassigned, locked, hasPlan: Boolean(plan),
  };
}

/** The route's travel as [start, end] intervals: each leg ends on arrival at a stop (or,
 * for the way home, starts after the last visit); leg lengths are estimated from distance
 * and scaled so they add up to the route's travel_s, which the plan states exactly. */
export function travelLegs(route, caregiver, visits) {
  if (!caregiver || route.stops.length === 0) return [];
  const speed = (SPEEDS_KMH[caregiver.mode] || SPEEDS_KMH.ebike) / 3.6;
  const points = [caregiver.home, ...route.stops.map((s) => visits.get(s.ref)?.location), caregiver.home];
  if (points.some((p) => !p)) return [];
  const estimates = [];
  for (let i = 1; i < points.length; i += 1) {
    estimates.push((haversineMetres(points[i - 1], points[i]) * DETOUR) / speed);
  }
  const total = estimates.reduce((a, b) => a + b, 0);
  const scale = total > 0 && route.travel_s ? route.travel_s / total : 1;
  const legs = [];
  let free = -Infinity; // the leg cannot begin before the previous visit or break ended
  route.stops.forEach((stop, i) => {
    const length = estimates[i] * scale;
    const start = Math.max(stop.arrival - length, free, 0);
    if (stop.arrival - start >= 30) legs.push([start, stop.arrival]);
    free = stop.end;
    for (const b of route.breaks) if (b.start >= stop.end && b.start <= free + 60) free = Math.max(free, b.end);
  });
  const home = estimates[estimates.length - 1] * scale;
  if (home >= 30) legs.push([free, free + home]);
  return legs;
}

/** Seconds of the visit's first window start, for sorting lists. */
export function windowStart(visit) {
  return visit && visit.windows.length ? toSeconds(visit.windows[0][0]) : 0;
}
