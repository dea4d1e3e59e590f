// The signature pad of the check-out card: strokes drawn with a finger, a pen or the mouse
// (pointer events) on a canvas, sent as SVG path data.
//
// Points are kept in the server's fixed box, not in screen pixels, so a signature gives
// the same path on any phone and the dispatcher's page can draw it in that box. The path
// uses only what the server accepts (app/services/evv_confirmation.py): absolute M, L and
// Q commands with whole numbers, a size cap, and enough points spread wide enough that a
// tap is not taken for a signature. The strokes live in memory only, never in storage.

export const BOX = { width: 400, height: 160 };
export const MAX_CHARS = 20_000;
const MIN_POINTS = 10;
const MIN_EXTENT = 30;
const MIN_GAP = 2; // box units between kept points: finer adds bytes, not legibility
const SCALE = 2; // canvas pixels per box unit: sharp on most phone screens

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

// A pad drawing into `strokes` (an array of arrays of [x, y], kept by the caller so a
// re-rendered card shows what was already signed).
export function signaturePad(strokes, { label, clearLabel }) {
  const canvas = document.createElement("canvas");
  canvas.className = "m-sign__pad";
  canvas.width = BOX.width * SCALE;
  canvas.height = BOX.height * SCALE;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  let current = null;

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [
      clamp(Math.round(((e.clientX - r.left) * BOX.width) / r.width), 0, BOX.width),
      clamp(Math.round(((e.clientY - r.top) * BOX.height) / r.height), 0, BOX.height),
    ];
  };
  const add = (e) => {
    const p = at(e);
    const last = current[current.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= MIN_GAP) current.push(p);
  };
  const end = () => {
    current = null;
  };

  canvas.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    canvas.setPointerCapture?.(e.pointerId);
    current = [at(e)];
    strokes.push(current);
    draw(canvas, strokes);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    for (const one of e.getCoalescedEvents?.() || [e]) add(one);
    draw(canvas, strokes);
  });
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "button button--quiet m-sign__clear";
  clear.textContent = clearLabel;
  clear.addEventListener("click", () => {
    strokes.length = 0;
    draw(canvas, strokes);
  });

  const wrap = document.createElement("div");
  wrap.className = "m-sign";
  wrap.append(canvas, clear);
  draw(canvas, strokes);
  return wrap;
}

function draw(canvas, strokes) {
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(SCALE, 0, 0, SCALE, 0, 0);
  ctx.lineWidth = 2.5;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = ctx.fillStyle = "#1f2933";
  for (const stroke of strokes) {
    ctx.beginPath();
    if (stroke.length === 1) {
      // A canvas strokes no zero-length line, so a tap is drawn as a dot.
      ctx.arc(...stroke[0], ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.moveTo(...stroke[0]);
    for (const p of stroke.slice(1)) ctx.lineTo(...p);
    ctx.stroke();
  }
}

// Whether the strokes would pass the server's check (so a tap never costs a check-out).
export function isSignature(strokes) {
  const points = strokes.flat();
  if (new Set(points.map(([x, y]) => `${x},${y}`)).size < MIN_POINTS) return false;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) >= MIN_EXTENT;
}

// SVG path data of the strokes: smoothed through the midpoints of successive points
// (quadratic curves), thinned further until it fits the size cap.
export function toPath(strokes) {
  for (let gap = MIN_GAP; ; gap *= 2) {
    const path = strokes.map((s) => strokePath(thin(s, gap))).join(" ");
    if (path.length <= MAX_CHARS || gap > BOX.width) return path;
  }
}

function thin(stroke, gap) {
  const kept = [stroke[0]];
  for (const p of stroke.slice(1)) {
    const last = kept[kept.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= gap) kept.push(p);
  }
  return kept;
}

function strokePath(points) {
  const [first, ...rest] = points;
  if (!rest.length) return `M${first[0]} ${first[1]} L${first[0]} ${first[1]}`;
  const parts = [`M${first[0]} ${first[1]}`];
  for (let i = 0; i < rest.length - 1; i += 1) {
    const [cx, cy] = rest[i];
    const [nx, ny] = rest[i + 1];
    parts.push(`Q${cx} ${cy} ${Math.round((cx + nx) / 2)} ${Math.round((cy + ny) / 2)}`);
  }
  const last = rest[rest.length - 1];
  parts.push(`L${last[0]} ${last[1]}`);
  return parts.join(" ");
}
