/* Kiosk mode: wipe everything after an idle countdown or when the visitor finishes.
   The server keeps nothing either (/kiosk/reset); this clears what the browser holds. */
(function () {
  "use strict";
  var body = document.body;
  if (!body || body.getAttribute("data-kiosk") !== "1") return;

  // No service worker may keep kiosk pages, and htmx must not keep a history snapshot.
  if (navigator.serviceWorker && navigator.serviceWorker.getRegistrations) {
    navigator.serviceWorker.getRegistrations().then(function (registrations) {
      registrations.forEach(function (registration) { registration.unregister(); });
    }).catch(function () {});
  }
  if (window.htmx) window.htmx.config.historyCacheSize = 0;

  var idleSeconds = parseInt(body.getAttribute("data-idle-seconds"), 10) || 120;
  var countdownSeconds = parseInt(body.getAttribute("data-countdown-seconds"), 10) || 30;
  var resetUrl = body.getAttribute("data-reset-url");
  var dialog = document.getElementById("kiosk-idle");
  var idleTimer = null;
  var tickTimer = null;
  var left = 0;
  var onStart = window.location.pathname === body.getAttribute("data-start-url");

  function clearBrowser() {
    document.querySelectorAll("form").forEach(function (form) { form.reset(); });
    try { window.sessionStorage.clear(); } catch (e) { /* storage may be disabled */ }
    try { window.localStorage.clear(); } catch (e) { /* storage may be disabled */ }
    if (window.caches && window.caches.keys) {
      window.caches.keys().then(function (names) {
        names.forEach(function (name) { window.caches.delete(name); });
      }).catch(function () {});
    }
  }

  // replace(): the filled page leaves the history, so Back cannot return to it.
  function wipe() {
    window.clearTimeout(idleTimer);
    window.clearInterval(tickTimer);
    clearBrowser();
    window.location.replace(resetUrl);
  }

  function show(seconds) {
    var target = dialog && dialog.querySelector("[data-countdown]");
    if (target) target.textContent = String(seconds);
  }

  function startIdle() {
    if (onStart) return;  // the start screen holds nothing to wipe
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(countDown, idleSeconds * 1000);
  }

  function countDown() {
    if (!dialog || !dialog.showModal) { wipe(); return; }
    left = countdownSeconds;
    show(left);
    dialog.showModal();
    tickTimer = window.setInterval(function () {
      left -= 1;
      show(Math.max(left, 0));
      if (left <= 0) wipe();
    }, 1000);
  }

  function stillHere() {
    window.clearInterval(tickTimer);
    if (dialog && dialog.open) dialog.close();
    startIdle();
  }

  ["pointerdown", "keydown", "input", "wheel", "touchstart", "scroll"].forEach(function (name) {
    document.addEventListener(name, function () {
      if (!dialog || !dialog.open) startIdle();
    }, { passive: true, capture: true });
  });
  if (dialog) {
    dialog.addEventListener("cancel", function (event) { event.preventDefault(); stillHere(); });
    var button = dialog.querySelector("[data-still-here]");
    if (button) button.addEventListener("click", stillHere);
  }

  // "Finish" and "Start over": wipe here, then let the server forget, replacing this page.
  document.addEventListener("click", function (event) {
    var finish = event.target.closest && event.target.closest("[data-kiosk-finish]");
    if (!finish) return;
    event.preventDefault();
    wipe();
  });

  var print = document.querySelector("[data-print]");
  if (print && window.print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }

  // Back must never show what the last visitor chose or typed. A page brought back from
  // the back-forward cache (persisted) is emptied at once and fetched again (the session
  // behind it may be gone); one the browser refilled on a history visit is emptied too.
  // reset() goes back to what the server wrote, so its own values (a 422's) stay.
  function fromHistory() {
    var entries = window.performance && performance.getEntriesByType
      ? performance.getEntriesByType("navigation") : [];
    return entries.length > 0 && entries[0].type === "back_forward";
  }
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted && !fromHistory()) return;
    document.querySelectorAll("form").forEach(function (form) { form.reset(); });
    if (event.persisted) window.location.reload();
  });

  // The start screen clears whatever the last visitor's browser kept.
  if (onStart) clearBrowser();
  startIdle();
})();
