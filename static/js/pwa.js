/* The installable app, in the page: registers the service worker (never on a kiosk),
   saves the report form on this phone when there is no connection and sends it when the
   connection returns, remembers the reports this phone filed (for the offline page), and
   turns push notifications on or off. Every page works without it. */
(function () {
  "use strict";
  var script = document.currentScript;
  var drafts = window.bpt311Drafts;
  var _ = window.bpt311 ? window.bpt311._ : function (text) { return text; };  // site.js
  var ngettext = window.bpt311 ? window.bpt311.ngettext : function (one, many, n) { return n === 1 ? one : many; };
  var body = document.body;
  if (!script || !body) return;

  if (body.dataset.kiosk) {
    // A kiosk is everyone's device: no worker, no drafts, no list of "my" reports.
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.getRegistrations().then(function (registrations) {
        registrations.forEach(function (registration) { registration.unregister(); });
      });
    }
    return;
  }
  if ("serviceWorker" in navigator) {
    // Once the page has loaded: the worker's start-up never competes with the first screen.
    var worker = script.getAttribute("data-worker");
    var register = function () {
      navigator.serviceWorker.register(worker, { scope: "/" }).catch(function () {});
    };
    if (document.readyState === "complete") register();
    else window.addEventListener("load", register, { once: true });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "bpt311-drafts") tell(event.data.outcome);
    });
  }
  if (!drafts || !window.indexedDB) return;

  var OFFLINE = script.getAttribute("data-offline");
  var SENDING = "bpt311.sending";

  function live(text) {
    var region = document.getElementById("live");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function notice(text, kind, link) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    var p = document.createElement("p");
    p.className = "notice notice--" + (kind || "info");
    p.setAttribute("role", kind === "error" ? "alert" : "status");
    p.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      p.appendChild(document.createTextNode(" "));
      p.appendChild(a);
    }
    flash.appendChild(p);
    flash.focus();
    live(text);
  }

  function csrfToken() {
    try { return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
  }

  function formatDate(iso) {
    var date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleDateString(document.documentElement.lang || "en", { day: "numeric", month: "short", year: "numeric" });
  }

  // ---- reports saved while offline -----------------------------------------------------

  function isReportForm(form) { return form && form.hasAttribute && form.hasAttribute("data-offline-drafts"); }

  function saveDraft(form) {
    var made = drafts.fromForm(form, form.getAttribute("data-category-name"));
    var key = drafts.field(made.draft, "submission_key");
    return drafts.drafts().then(function (saved) {
      // The same form saved twice (a second tap) is one draft.
      return Promise.all(saved.filter(function (d) { return drafts.isSound(d) && drafts.field(d, "submission_key") === key; })
        .map(function (d) { return drafts.forget(d.id); }));
    }).then(function () { return drafts.save(made.draft); }).then(function () {
      var text = _("No connection. Your report is saved on this phone and will be sent when you're back online.");
      if (made.skipped.length) {
        text += " " + ngettext(
          "%(files)s is too large to keep on this phone (over %(size)s MB), so the saved report is without it. You can add it to your report later by replying with a photo.",
          "%(files)s are too large to keep on this phone (over %(size)s MB), so the saved report is without them. You can add them to your report later by replying with a photo.",
          made.skipped.length, { files: made.skipped.join(", "), size: Math.round(drafts.PHOTO_LIMIT / 1048576) });
      }
      notice(text, "info", { href: OFFLINE, text: _("See reports saved on this phone") });
      if (navigator.serviceWorker && window.SyncManager) {
        navigator.serviceWorker.ready.then(function (registration) {
          return registration.sync.register("bpt311-drafts");
        }).catch(function () {});
      }
    }).catch(function () {
      notice(_("No connection, and your report could not be saved on this phone. Nothing was sent: please try again when you are back online."), "error");
    });
  }

  // Offline: keep the report instead of letting the browser (or htmx) fail to send it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!isReportForm(form)) return;
    if (!navigator.onLine) {
      event.preventDefault();
      event.stopImmediatePropagation();
      saveDraft(form);
      return;
    }
    try {
      sessionStorage.setItem(SENDING, JSON.stringify({
        category: form.getAttribute("data-category-name") || "",
        key: (form.querySelector("[name=submission_key]") || {}).value || ""
      }));
    } catch (e) { /* private mode: the offline page just won't list it */ }
  }, true);
  // Online as far as the browser knows, but the request never reached us.
  document.addEventListener("htmx:sendError", function (event) {
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    if (isReportForm(form)) saveDraft(form);
  });

  function tell(outcome) {
    if (!outcome) return;
    if (outcome.corrupt) {
      notice(_("A report saved on this phone was damaged and could not be sent. Nothing from it was sent: please report the problem again."), "error");
    }
    if (outcome.attention) {
      notice(_("A report saved on this phone needs you to check it before it can be sent."), "info", { href: OFFLINE, text: _("Check it") });
    }
    announceFiled();
  }

  // The "online" event and Background Sync may both finish sending and ask at once, each
  // before the other has marked the report announced: say it once per page.
  var announcedHere = {};

  function announceFiled() {
    return drafts.filed().then(function (filed) {
      filed.filter(function (record) { return !record.announced && !announcedHere[record.tracking]; }).forEach(function (record) {
        announcedHere[record.tracking] = true;
        notice(_("Your report saved on this phone has been sent. Its tracking number is %(number)s.", { number: record.tracking }), "success",
          { href: "/reports/" + encodeURIComponent(record.tracking), text: _("See report %(number)s", { number: record.tracking }) });
        drafts.markAnnounced(record);
      });
    });
  }

  function sendSaved() {
    if (!navigator.onLine) return;
    drafts.sendAll().then(tell).catch(function () {});
  }
  window.addEventListener("online", sendSaved);
  sendSaved();

  // A report sent the ordinary way: remember it for the offline page.
  var submitted = /^\/reports\/([A-Za-z0-9-]+)\/submitted$/.exec(location.pathname);
  if (submitted) {
    var sending = null;
    try { sending = JSON.parse(sessionStorage.getItem(SENDING) || "null"); sessionStorage.removeItem(SENDING); } catch (e) { sending = null; }
    if (sending) {
      drafts.recordFiled(submitted[1], sending.category);
      drafts.drafts().then(function (saved) {  // a saved draft sent by hand is done with
        saved.forEach(function (d) {
          if (drafts.isSound(d) && drafts.field(d, "submission_key") === sending.key) drafts.forget(d.id);
        });
      });
    }
  }

  // ---- a saved draft opened again (/reports/new?category=...&draft=N) ---------------------

  function restore(form, draft) {
    draft.fields.forEach(function (pair) {
      if (pair[0] === "csrf_token") return;
      form.querySelectorAll("[name='" + pair[0].replace(/'/g, "") + "']").forEach(function (el) {
        if (el.type === "radio" || el.type === "checkbox") { if (el.value === pair[1]) el.checked = true; }
        else if (el.type !== "file") el.value = pair[1];
      });
    });
    var input = form.querySelector("input[type=file][name=photos]");
    if (input && draft.photos.length && window.DataTransfer) {
      var transfer = new DataTransfer();
      draft.photos.forEach(function (photo) { transfer.items.add(new File([photo.blob], photo.name, { type: photo.type })); });
      input.files = transfer.files;
    }
    notice(_("Your saved report is filled in below. Check it, then send it."), "info");
  }
  var wanted = new URLSearchParams(location.search).get("draft");
  var reportForm = document.querySelector("form[data-offline-drafts]");
  if (reportForm && !wanted && window.crypto && crypto.getRandomValues) {
    // A key made here, not one from the page: a form opened from the offline cache would
    // otherwise give every report written from it the same key, and the server one report.
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    var key = reportForm.querySelector("[name=submission_key]");
    if (key) key.value = "c" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  if (wanted && reportForm) {
    drafts.drafts().then(function (saved) {
      var draft = saved.filter(function (d) { return String(d.id) === wanted; })[0];
      if (draft && drafts.isSound(draft)) restore(reportForm, draft);
      else notice(_("That saved report is no longer on this phone."), "info");
    });
  }

  // ---- the offline page: what this phone filed and what waits to be sent ----------------

  var filedList = document.getElementById("phone-reports");
  var draftList = document.getElementById("phone-drafts");
  function item(list, parts) {
    var li = document.createElement("li");
    parts.forEach(function (part) { li.appendChild(typeof part === "string" ? document.createTextNode(part) : part); });
    list.appendChild(li);
  }
  function link(href, text) { var a = document.createElement("a"); a.href = href; a.textContent = text; return a; }
  function fillOfflinePage() {
    if (!filedList || !draftList) return;
    drafts.filed().then(function (filed) {
      filedList.textContent = "";
      filed.sort(function (a, b) { return a.date < b.date ? 1 : -1; }).forEach(function (record) {
        item(filedList, [link("/reports/" + encodeURIComponent(record.tracking), record.tracking),
          ", " + (record.category || _("report")) + ", " + formatDate(record.date)]);
      });
      document.getElementById("phone-reports-empty").hidden = filed.length > 0;
    });
    drafts.drafts().then(function (saved) {
      draftList.textContent = "";
      saved.forEach(function (draft) {
        if (!drafts.isSound(draft)) return;
        var what = { report: draft.categoryName || _("Report"), date: formatDate(draft.created) };
        var parts = [];
        if (draft.status === "attention") {
          var code = drafts.field(draft, "category");
          parts.push(_("%(report)s, saved %(date)s: needs you to check it.", what) + " ");
          parts.push(link("/reports/new?category=" + encodeURIComponent(code) + "&draft=" + draft.id, _("Open it")));
        } else {
          parts.push(_("%(report)s, saved %(date)s: waiting for a connection.", what) + " ");
        }
        var discard = document.createElement("button");
        discard.type = "button";
        discard.className = "button button--secondary";
        discard.textContent = _("Discard");
        discard.setAttribute("aria-label", draft.categoryName
          ? _("Discard the saved report: %(report)s", { report: draft.categoryName })
          : _("Discard the saved report"));
        discard.addEventListener("click", function () {
          drafts.forget(draft.id).then(function () { live(_("The saved report was discarded.")); fillOfflinePage(); });
        });
        parts.push(" ", discard);
        item(draftList, parts);
      });
      document.getElementById("phone-drafts-section").hidden = draftList.children.length === 0;
    });
  }
  if (filedList) {
    document.getElementById("phone-reports-js").hidden = false;
    document.getElementById("phone-reports-nojs").hidden = true;
    fillOfflinePage();
  }

  // ---- push notifications on this device ------------------------------------------------

  var controls = document.getElementById("push-controls");
  if (!controls) return;
  var status = document.getElementById("push-status");
  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  document.getElementById("push-nojs").hidden = true;
  if (!supported) {
    status.textContent = _("This browser cannot receive notifications. Emails still reach you.");
    return;
  }
  controls.hidden = false;
  var on = document.getElementById("push-on");
  var off = document.getElementById("push-off");

  function keyBytes(base64url) {
    var text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }
  function deviceLabel() {
    var ua = navigator.userAgent;
    var browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom/.test(ua) ? "Chrome"
      : /Safari\//.test(ua) ? "Safari" : _("A browser");
    var system = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? _("iPhone or iPad") : /Windows/.test(ua) ? "Windows"
      : /Mac OS X/.test(ua) ? "Mac" : /Linux/.test(ua) ? "Linux" : "";
    return system ? _("%(browser)s on %(system)s", { browser: browser, system: system }) : browser;
  }
  function postJSON(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(payload)
    }).then(function (response) { return response.json(); });
  }
  function show(subscribed, text) {
    on.hidden = subscribed;
    off.hidden = !subscribed;
    if (text) { status.textContent = text; live(text); }
  }
  navigator.serviceWorker.ready.then(function (registration) {
    return registration.pushManager.getSubscription();
  }).then(function (subscription) {
    show(!!subscription, subscription ? _("Notifications are on for this device.") : _("Notifications are off for this device."));
  });
  on.addEventListener("click", function () {
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error(_("You did not allow notifications. You can allow them in your browser's site settings."));
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(controls.getAttribute("data-key")) });
    }).then(function (subscription) {
      return postJSON(controls.getAttribute("data-subscribe"), {
        subscription: subscription.toJSON(),
        reports: document.getElementById("push-reports").checked,
        areas: document.getElementById("push-areas").checked,
        label: deviceLabel()
      });
    }).then(function (answer) {
      show(!!answer.ok, answer.message);
    }).catch(function (error) { show(false, error.message || _("Notifications could not be turned on.")); });
  });
  off.addEventListener("click", function () {
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return { message: _("Notifications are off for this device.") };
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        return postJSON(controls.getAttribute("data-unsubscribe"), { endpoint: endpoint });
      });
    }).then(function (answer) { show(false, answer.message || _("Notifications are off for this device.")); });
  });
})();
