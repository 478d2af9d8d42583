/* Bridgeport 311's service worker, rendered by bpt311/pwa/views.py.
   Keeps the app shell for offline use, serves /offline when a page cannot be reached,
   sends reports saved offline when the connection returns, and shows push notifications.
   Never caches POSTs, and caches only the public pages listed below. */
"use strict";
const VERSION = "";
const SHELL_CACHE = "bpt311-shell-" + VERSION;
const PAGE_CACHE = "bpt311-pages-" + VERSION;
const SHELL = {{ shell | tojson }};
const OFFLINE_URL = {{ offline_url | tojson }};
const STATIC_PREFIX = {{ static_prefix | tojson }};
const ICON = {{ icon | tojson }};
const PAGE_LIMIT = 30;
// Only these pages are kept for offline reading, and only when the server did not mark
// them private (it does for signed-in people): home, the list, a report, the form.
const PUBLIC_PAGES = [/^\/$/, /^\/reports$/, /^\/reports\/new$/, /^\/reports\/BPT-\d+$/];

importScripts({{ drafts_script | tojson }});

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL_CACHE)
    // Without cookies: the shell is the same for everyone, never one person's page.
    .then(function (cache) {
      return cache.addAll(SHELL.map(function (url) { return new Request(url, { credentials: "omit" }); }));
    })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (key) {
      return key.indexOf("bpt311-") === 0 && key !== SHELL_CACHE && key !== PAGE_CACHE;
    }).map(function (key) { return caches.delete(key); }));
  }).then(function () { return self.clients.claim(); }));
});

function cacheable(url, response) {
  if (!response.ok || response.type !== "basic") return false;
  if (!PUBLIC_PAGES.some(function (pattern) { return pattern.test(url.pathname); })) return false;
  var control = response.headers.get("Cache-Control") || "";
  return !/private|no-store/.test(control);
}

function trim(cache) {
  return cache.keys().then(function (keys) {
    return Promise.all(keys.slice(0, Math.max(keys.length - PAGE_LIMIT, 0)).map(function (key) {
      return cache.delete(key);
    }));
  });
}

function networkFirst(request, url) {
  return fetch(request).then(function (response) {
    if (cacheable(url, response)) {
      var copy = response.clone();
      caches.open(PAGE_CACHE).then(function (cache) {
        return cache.put(request, copy).then(function () { return trim(cache); });
      });
    }
    return response;
  }).catch(function () {
    return caches.match(request, { ignoreVary: true }).then(function (cached) {
      return cached || caches.match(OFFLINE_URL, { ignoreSearch: true });
    }).then(function (page) {
      return page || new Response("No connection.", { status: 503, headers: { "Content-Type": "text/plain" } });
    });
  });
}

function cacheFirst(request) {
  // Static files have fingerprinted names: a cached copy is never out of date.
  return caches.match(request).then(function (cached) {
    if (cached) return cached;
    return fetch(request).then(function (response) {
      if (response.ok && response.type === "basic") {
        var copy = response.clone();
        caches.open(SHELL_CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    // Signing out forgets the pages kept for offline reading; POSTs themselves go untouched.
    if (/sign-out(-everywhere)?$/.test(url.pathname)) event.waitUntil(caches.delete(PAGE_CACHE));
    return;
  }
  if (url.pathname.indexOf(STATIC_PREFIX) === 0) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirst(request, url));
  }
});

function tellPages(message) {
  return self.clients.matchAll({ type: "window" }).then(function (pages) {
    pages.forEach(function (page) { page.postMessage(message); });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag !== "bpt311-drafts") return;
  event.waitUntil(self.bpt311Drafts.sendAll().then(function (outcome) {
    return tellPages({ type: "bpt311-drafts", outcome: outcome });
  }));
});

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (error) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || "Bridgeport 311", {
    body: data.body || "",
    tag: data.tag || undefined,
    icon: ICON,
    data: { url: data.url || "/" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (target.origin !== self.location.origin) target = new URL("/", self.location.origin);
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (pages) {
    for (var i = 0; i < pages.length; i++) {
      if (pages[i].url === target.href && "focus" in pages[i]) return pages[i].focus();
    }
    return self.clients.openWindow(target.href);
  }));
});
