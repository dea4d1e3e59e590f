// CareRoute's service worker: the caregiver app opens without signal.
//
// It caches static files (CSS, scripts, icons) and the app shell page /m/ — never an API
// answer, so no route or health data is kept here (the app keeps today's route itself,
// and purges it). Static files: cache first. The shell: network first, the cached copy
// when offline. Everything else goes to the network untouched.

const VERSION = "careroute-v1";
const STATIC_CACHE = `${VERSION}-static`;
const SHELL_CACHE = `${VERSION}-shell`;
const SHELL_URL = "/m/";
const PRECACHE = [
  "/static/css/app.css",
  "/static/css/mobile.css",
  "/static/js/mobile.js",
  "/static/js/mobile_store.js",
  "/static/js/mobile_outbox.js",
  "/static/js/mobile_signature.js",
  "/static/vendor/socket.io/socket.io.min.js",
  "/static/manifest.webmanifest",
  "/static/img/icons/icon.svg",
  "/static/img/icons/icon-192.png",
  "/static/img/icons/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(STATIC_CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => !k.startsWith(VERSION)).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  // Sent at logout: forget the shell page (it names the user).
  if (event.data === "logout") event.waitUntil(caches.delete(SHELL_CACHE));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate" && url.pathname === SHELL_URL) {
    event.respondWith(shell(request));
  }
});

async function cacheFirst(request) {
  const cached = await caches.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) (await caches.open(STATIC_CACHE)).put(request, response.clone());
  return response;
}

async function shell(request) {
  try {
    const response = await fetch(request);
    // Only a real shell is kept: a redirect to the login form is not.
    if (response.ok && !response.redirected) {
      (await caches.open(SHELL_CACHE)).put(SHELL_URL, response.clone());
    }
    return response;
  } catch {
    const cached = await caches.match(SHELL_URL);
    return cached || Response.error();
  }
}
