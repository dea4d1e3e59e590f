// Small helpers shared by the board's modules: DOM building, translated strings,
// times of day, and JSON calls to the API with its one error shape.

export const SVG_NS = "http://www.w3.org/2000/svg";

function applyAttrs(node, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: el("li", {class: "x", onclick: f}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  return append(applyAttrs(document.createElement(tag), attrs), children);
}

/** An SVG element, as el(). */
export function svg(tag, attrs = {}, ...children) {
  return append(applyAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

/** The translation function over the dictionary the server rendered. */
export function makeTranslator(strings) {
  return (key, params = {}) => {
    const text = strings[key] ?? key;
    return text.replace(/%\((\w+)\)[sd]/g, (_m, name) => (name in params ? params[name] : ""));
  };
}

/** Seconds since midnight from "HH:MM" or "HH:MM:SS". */
export function toSeconds(text) {
  const [h, m, s] = text.split(":").map(Number);
  return h * 3600 + m * 60 + (s || 0);
}

/** "HH:MM" of seconds since midnight (rounded down to the minute). */
export function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  const h = Math.floor(minutes / 60);
  return `${String(h).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/** "HH:MM" of a stored UTC instant, in the agencies' time zone. */
export function localClock(iso, timeZone) {
  if (!iso) return "";
  const when = new Date(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);
  return new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone,
  }).format(when);
}

export function formatNumber(value, locale, digits = 0) {
  return new Intl.NumberFormat(locale, {
    maximumFractionDigits: digits, minimumFractionDigits: digits,
  }).format(value);
}

/** Great-circle metres between two [lat, lon] points (for drawing, not for checking). */
export function haversineMetres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2
    + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
}

export class ApiError extends Error {
  constructor(status, message, errors = {}) {
    super(message);
    this.status = status;
    this.errors = errors;
  }

  /** The message with each field's error, as the API named them. */
  describe() {
    const fields = Object.entries(this.errors || {}).map(([f, m]) => `${f}: ${m}`);
    return fields.length ? `${this.message} (${fields.join("; ")})` : this.message;
  }
}

/** A JSON call to the API; resolves to the parsed body, rejects with an ApiError. */
export async function api(method, url, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, "", { network: String(err) });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.message) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, (data && data.errors) || {});
  }
  return data;
}

/** Distinct, legible route colours: hues a golden angle apart, two lightnesses. */
export function routeColour(index) {
  const hue = Math.round((index * 137.508 + 200) % 360);
  const light = index % 2 ? 36 : 44;
  return `hsl(${hue} 62% ${light}%)`;
}
