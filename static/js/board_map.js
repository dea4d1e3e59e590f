// The route map, drawn as SVG in an equirectangular projection of the day's bounding box:
// no tile server is needed. When a tile URL template ({z}/{x}/{y}) is configured, tiles
// are laid under the drawing; over a city the two projections agree to well under a pixel
// per tile, so each tile is simply stretched between its projected corners.

import { svg } from "./board_util.js";

const WIDTH = 440;
const MIN_HEIGHT = 280;
const MAX_HEIGHT = 380;
const PAD = 16;
const TILE_PX = 256;

/** The drawing's height for the points' shape, so a tall or wide city fills the card. */
function heightFor(points) {
  const lats = points.map((p) => p[0]);
  const lons = points.map((p) => p[1]);
  const kx = Math.cos((((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI) / 180);
  const dx = Math.max((Math.max(...lons) - Math.min(...lons)) * kx, 1e-4);
  const dy = Math.max(Math.max(...lats) - Math.min(...lats), 1e-4);
  const natural = ((WIDTH - 2 * PAD) * dy) / dx + 2 * PAD;
  return Math.round(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, natural)));
}

export function projection(points, height) {
  const lats = points.map((p) => p[0]);
  const lons = points.map((p) => p[1]);
  const [south, north] = [Math.min(...lats), Math.max(...lats)];
  const [west, east] = [Math.min(...lons), Math.max(...lons)];
  const kx = Math.cos((((south + north) / 2) * Math.PI) / 180);
  const dx = Math.max((east - west) * kx, 1e-4);
  const dy = Math.max(north - south, 1e-4);
  const scale = Math.min((WIDTH - 2 * PAD) / dx, (height - 2 * PAD) / dy);
  const ox = (WIDTH - dx * scale) / 2;
  const oy = (height - dy * scale) / 2;
  const project = ([lat, lon]) => [ox + (lon - west) * kx * scale, oy + (north - lat) * scale];
  const unproject = ([x, y]) => [north - (y - oy) / scale, west + (x - ox) / (kx * scale)];
  return { project, unproject, scale, kx, bounds: { south, north, west, east } };
}

export function renderMap(container, model, view) {
  const points = [];
  for (const c of model.caregivers.values()) if (c.home) points.push(c.home);
  for (const v of model.shown) if (v.location) points.push(v.location);
  if (!points.length) {
    container.replaceChildren();
    return;
  }
  const height = heightFor(points);
  const proj = projection(points, height);
  const P = (p) => proj.project(p).map((n) => n.toFixed(1)).join(",");
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`, class: "map__svg", role: "img",
    "aria-label": view.t("map_label"),
  });
  root.append(svg("rect", { x: 0, y: 0, width: WIDTH, height: height, class: "map__bg" }));
  if (view.tileUrl) root.append(tiles(proj, view.tileUrl, height));

  const focus = view.focusCaregiver;
  const routes = svg("g", { class: "map__routes" });
  for (const [ref, route] of model.routes) {
    const c = model.caregivers.get(ref);
    if (!c || !route.stops.length) continue;
    const path = [c.home, ...route.stops.map((s) => model.visits.get(s.ref)?.location).filter(Boolean), c.home];
    routes.append(svg("polyline", {
      points: path.map(P).join(" "),
      class: `map__route${focus && focus !== ref ? " map__route--faded" : ""}${focus === ref ? " map__route--focus" : ""}`,
      stroke: c.colour,
      dataset: { ref },
    }, svg("title", {}, c.name)));
  }
  root.append(routes);

  const homes = svg("g", { class: "map__homes" });
  for (const c of model.caregivers.values()) {
    if (!c.home) continue;
    const [x, y] = proj.project(c.home);
    homes.append(svg("rect", {
      x: (x - 4).toFixed(1), y: (y - 4).toFixed(1), width: 8, height: 8, rx: 1.5,
      class: `map__home${focus && focus !== c.ref ? " map__home--faded" : ""}`, stroke: c.colour,
    }, svg("title", {}, c.name)));
  }
  root.append(homes);

  const dots = svg("g", { class: "map__visits" });
  let selectedDot = null;
  for (const v of model.shown) {
    if (!v.location) continue;
    const [x, y] = proj.project(v.location);
    const where = model.placed.get(v.ref);
    const owner = where ? model.caregivers.get(where[0].caregiver) : null;
    let cls = "map__visit";
    if (!model.hasPlan) cls += " map__visit--open";
    else if (!owner) cls += " map__visit--unassigned";
    if (focus && (!owner || owner.ref !== focus)) cls += " map__visit--faded";
    if (view.moved.has(v.ref)) cls += " map__visit--moved";
    const dot = svg("circle", {
      cx: x.toFixed(1), cy: y.toFixed(1), r: 4.2, class: cls,
      fill: owner ? owner.colour : null,
      dataset: { ref: v.ref },
      onclick: () => view.onSelect(v.ref),
    }, svg("title", {}, `${v.person_name} · ${v.windows.map((w) => w.join("–")).join(", ")}`));
    dots.append(dot);
    if (view.selected === v.ref) selectedDot = [x, y];
  }
  root.append(dots);
  if (selectedDot) {
    root.append(svg("circle", {
      cx: selectedDot[0].toFixed(1), cy: selectedDot[1].toFixed(1), r: 9, class: "map__selected",
    }));
  }
  root.append(scaleBar(proj, height));
  if (view.tileUrl && view.tileAttribution) {
    root.append(svg("text", { x: WIDTH - 4, y: height - 4, class: "map__attribution" }, view.tileAttribution));
  }
  container.replaceChildren(root);
}

function scaleBar(proj, height) {
  const metresPerPx = 111320 / proj.scale; // one degree of latitude is ~111.32 km
  const target = metresPerPx * 90;
  const steps = [250, 500, 1000, 2000, 5000, 10000, 20000];
  const metres = steps.reduce((best, s) => (Math.abs(s - target) < Math.abs(best - target) ? s : best));
  const px = metres / metresPerPx;
  const x = PAD;
  const y = height - PAD;
  const label = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
  return svg("g", { class: "map__scale" },
    svg("path", { d: `M${x},${y - 5}v5h${px.toFixed(1)}v-5` }),
    svg("text", { x: x + px / 2, y: y - 8 }, label));
}

function tiles(proj, template, height) {
  const { west, east, south, north } = proj.bounds;
  const pxPerDegree = proj.scale * proj.kx;
  const zoom = Math.max(0, Math.min(19, Math.round(Math.log2((pxPerDegree * 360) / TILE_PX))));
  const n = 2 ** zoom;
  const tileX = (lon) => Math.floor(((lon + 180) / 360) * n);
  const tileY = (lat) => {
    const r = (lat * Math.PI) / 180;
    return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  };
  const lonOf = (x) => (x / n) * 360 - 180;
  const latOf = (y) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI;
  // Cover the whole drawing, which is wider or taller than the bounding box.
  const [nw, se] = [proj.unproject([0, 0]), proj.unproject([WIDTH, height])];
  const group = svg("g", { class: "map__tiles" });
  for (let x = tileX(Math.min(west, nw[1])); x <= tileX(Math.max(east, se[1])); x += 1) {
    for (let y = tileY(Math.max(north, nw[0])); y <= tileY(Math.min(south, se[0])); y += 1) {
      const [x0, y0] = proj.project([latOf(y), lonOf(x)]);
      const [x1, y1] = proj.project([latOf(y + 1), lonOf(x + 1)]);
      const href = template.replace("{z}", zoom).replace("{x}", x).replace("{y}", y);
      group.append(svg("image", {
        href, x: x0.toFixed(1), y: y0.toFixed(1),
        width: (x1 - x0).toFixed(1), height: (y1 - y0).toFixed(1), preserveAspectRatio: "none",
      }));
    }
  }
  return group;
}
