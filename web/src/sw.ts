/**
 * The service worker: caches ONLY the application's own static files (the
 * page, the bundle, the style sheet, the manifest, the icons), so the app
 * opens without the network. Never an API answer (`/v1/…`) nor anything
 * else: those requests are not touched. Network first (a new version is
 * picked up at once), the cache when offline; caches of other versions
 * are deleted at activation.
 */

/// <reference lib="webworker" />

declare const self: ServiceWorkerGlobalScope;

const VERSION = 'v1';
const CACHE = `curbside-static-${VERSION}`;
const FILES = ['./', 'index.html', 'app.css', 'assets/app.js', 'manifest.webmanifest', 'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png'];

const scope = new URL(self.registration.scope);
const STATIC = new Set(FILES.map((f) => new URL(f, scope).pathname));

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('curbside-') && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== scope.origin || !STATIC.has(url.pathname) || url.pathname.startsWith('/v1/')) return;
  event.respondWith(
    fetch(request)
      .then(async (response) => {
        if (response.ok && response.type === 'basic') {
          const cache = await caches.open(CACHE);
          await cache.put(url.pathname === scope.pathname ? new URL('index.html', scope).href : request, response.clone());
        }
        return response;
      })
      .catch(async () => {
        const cached = await caches.match(url.pathname === scope.pathname ? new URL('index.html', scope).href : request);
        return cached ?? Response.error();
      }),
  );
});

export {};
