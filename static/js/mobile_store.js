// What the caregiver app keeps on the phone, and for how long.
//
// Two things only, in localStorage under the "careroute." prefix and the user's id:
// today's route (health data: it is keyed by date, and any other day's copy is purged at
// start) and the outbox of check-in/check-out actions not yet accepted by the server.
// Logging out removes both. The service worker caches static files only.

const PREFIX = "careroute.";

// Set by clearAll: a route fetch or an outbox answer that lands after the logout form is
// sent, before the login page replaces this one, must not write the data back.
let closed = false;

function routeKey(userId, day) {
  return `${PREFIX}route.${userId}.${day}`;
}

function outboxKey(userId) {
  return `${PREFIX}outbox.${userId}`;
}

function read(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

// Drop every stored route but today's for this user; other users' data too (a shared
// phone after a forgotten logout).
export function purge(userId, today) {
  const keep = new Set([routeKey(userId, today), outboxKey(userId)]);
  for (let i = localStorage.length - 1; i >= 0; i -= 1) {
    const key = localStorage.key(i);
    if (key && key.startsWith(PREFIX) && !keep.has(key)) localStorage.removeItem(key);
  }
}

export function clearAll() {
  closed = true;
  for (let i = localStorage.length - 1; i >= 0; i -= 1) {
    const key = localStorage.key(i);
    if (key && key.startsWith(PREFIX)) localStorage.removeItem(key);
  }
}

export function saveRoute(userId, day, route) {
  if (closed) return;
  localStorage.setItem(routeKey(userId, day), JSON.stringify({ savedAt: Date.now(), route }));
}

export function loadRoute(userId, day) {
  return read(routeKey(userId, day), null);
}

export function outbox(userId) {
  return read(outboxKey(userId), []);
}

export function saveOutbox(userId, actions) {
  if (closed) return;
  localStorage.setItem(outboxKey(userId), JSON.stringify(actions));
}
