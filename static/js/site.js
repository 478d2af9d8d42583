/* Bridgeport 311: the one hand-written script. Every page works without it. */

/* Words in the page's language, for every script: window.bpt311._("Text", {name: value})
   gives the Spanish or Portuguese served to es/pt pages by /i18n/<lang>.js (base.html
   loads it first), else the English as written; %(name)s is filled from the object.
   window.bpt311.ngettext("%(num)d photo", "%(num)d photos", n, values) picks the plural
   form for n (and fills %(num)s/%(num)d with n). Write whole sentences, never pieces. */
(function () {
  "use strict";
  var has = Object.prototype.hasOwnProperty;
  function catalogue() { return window.bpt311Messages || { lang: "en", messages: {} }; }
  function fill(text, values) {
    if (!values) return text;
    return text.replace(/%\((\w+)\)[sd]/g, function (hole, name) {
      return has.call(values, name) ? String(values[name]) : hole;
    });
  }
  function gettext(text, values) {
    var messages = catalogue().messages;
    var found = has.call(messages, text) ? messages[text] : null;
    return fill(typeof found === "string" ? found : text, values);
  }
  function pluralIndex(lang, n) {
    try { return new Intl.PluralRules(lang).select(n) === "one" ? 0 : 1; } catch (e) { return n === 1 ? 0 : 1; }
  }
  function ngettext(singular, plural, n, values) {
    var book = catalogue();
    var found = has.call(book.messages, singular) ? book.messages[singular] : null;
    var index = pluralIndex(book.lang || "en", n);
    var text = Array.isArray(found) ? found[index] : (index === 0 ? singular : plural);
    var all = { num: n };
    Object.keys(values || {}).forEach(function (name) { all[name] = values[name]; });
    return fill(text, all);
  }
  window.bpt311 = window.bpt311 || {};
  window.bpt311._ = gettext;
  window.bpt311.ngettext = ngettext;
})();

(function () {
  "use strict";
  var _ = window.bpt311._;
  var live = function (text) {
    var region = document.getElementById("live");
    if (!region || !text) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  };

  // Disable a form's submit buttons once it is sent, against double posts.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    window.setTimeout(function () {
      if (event.defaultPrevented) return;
      form.querySelectorAll("button[data-once], input[type=submit][data-once]").forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });
  // Coming back with the Back button must not leave buttons dead.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("[data-once][disabled]").forEach(function (button) { button.disabled = false; });
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    event.target.querySelectorAll && event.target.querySelectorAll("[data-once][disabled]").forEach(function (button) {
      button.disabled = false;
    });
  });

  // A swap that removes the focused element would drop focus to <body>: remember where it was.
  var lostFocus = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    var target = event.detail.target;
    lostFocus = active && active !== document.body && target && target.contains(active)
      ? { id: active.id, parent: target.parentElement } : null;
  });
  function focusOnPurpose(root) {
    var was = lostFocus;
    lostFocus = null;
    var active = document.activeElement;
    if (!was || (active && active !== document.body && document.contains(active))) return;
    var same = was.id && document.getElementById(was.id);
    if (same && same.getClientRects().length) { same.focus(); return; }
    var region = root && root !== document && document.contains(root) ? root : was.parent;
    if (!region || !document.contains(region)) region = document.getElementById("main");
    // The element the server marked, else the region itself if focusable, else its heading.
    var target = region.querySelector("[data-focus-after-swap]")
      || (region.hasAttribute("tabindex") ? region : region.querySelector("h1, h2, h3")) || region;
    if (!target.hasAttribute("tabindex") && !target.matches("a[href], button, input, select, textarea")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
  }

  // After a swap: move focus to an error summary (announcing how many problems it lists),
  // announce what the server asked us to, and never leave focus lost.
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.detail.elt || document;
    var find = function (selector) {
      if (root.matches && root.matches(selector)) return root;
      return root.querySelector ? root.querySelector(selector) : null;
    };
    var summary = find(".error-summary");
    if (summary) {
      lostFocus = null;
      summary.focus();
      live(summary.getAttribute("data-announce"));
      return;
    }
    var announce = find("[data-announce]");
    if (announce) live(announce.getAttribute("data-announce"));
    focusOnPurpose(root);
  });
  // A response with nothing to swap may still speak: HX-Trigger: {"announce": "..."}.
  document.addEventListener("announce", function (event) {
    live(event.detail && event.detail.value);
  });

  // htmx does not swap errors: show the server's message in the flash area.
  document.addEventListener("htmx:responseError", function (event) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    flash.innerHTML = event.detail.xhr.responseText || "";
    if (!flash.firstElementChild) {
      flash.innerHTML = '<p class="notice notice--error" role="alert"></p>';
      flash.firstElementChild.textContent = _("Something went wrong. Please try again.");
    }
    flash.focus();
  });
  document.addEventListener("htmx:sendError", function (event) {
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    if (form && form.hasAttribute("data-offline-drafts")) return;  // pwa.js saves it on the phone
    live(_("No connection. Nothing was sent; please try again when you are back online."));
  });
})();

/* A quiet character counter: shown only near the limit, announced once per 50 characters. */
(function () {
  "use strict";
  var ngettext = window.bpt311.ngettext;
  function attach(area) {
    if (area.getAttribute("data-counter-ready")) return;
    area.setAttribute("data-counter-ready", "1");
    var limit = parseInt(area.getAttribute("data-counter"), 10);
    var note = document.createElement("p");
    note.className = "hint counter";
    note.id = area.id + "-counter";
    area.insertAdjacentElement("afterend", note);
    var lastBand = null;
    area.addEventListener("input", function () {
      var left = limit - area.value.length;
      if (left > 200) { note.textContent = ""; return; }
      note.textContent = left >= 0
        ? ngettext("You have %(num)s character left", "You have %(num)s characters left", left)
        : ngettext("You have %(num)s character too many", "You have %(num)s characters too many", -left);
      var band = Math.floor(left / 50);
      if (band !== lastBand) {
        lastBand = band;
        var region = document.getElementById("live");
        if (region) region.textContent = note.textContent;
      }
    });
  }
  function scan(root) {
    if (root.querySelectorAll) root.querySelectorAll("textarea[data-counter]").forEach(attach);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
})();

/* "Near me": buttons that only exist with JavaScript, going to the list near the phone's position. */
(function () {
  "use strict";
  var _ = window.bpt311._;
  function attach(button) {
    if (button.getAttribute("data-ready") || !navigator.geolocation) return;
    button.setAttribute("data-ready", "1");
    button.hidden = false;
    button.addEventListener("click", function () {
      var note = document.getElementById(button.getAttribute("aria-describedby") || "");
      if (note) note.textContent = _("Finding your location…");
      navigator.geolocation.getCurrentPosition(function (pos) {
        var params = new URLSearchParams({
          lat: pos.coords.latitude.toFixed(5), lon: pos.coords.longitude.toFixed(5),
          radius: "1000", sort: "nearest"
        });
        window.location.href = button.getAttribute("data-near-me") + "?" + params.toString();
      }, function (error) {
        if (note) note.textContent = error.code === 1
          ? _("You did not allow us to use your location. Type an address instead.")
          : _("Your location could not be found just now. Type an address instead.");
      }, { timeout: 15000, maximumAge: 60000 });
    });
  }
  function scan(root) {
    if (root.querySelectorAll) root.querySelectorAll("button[data-near-me]").forEach(attach);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
})();

/* Leaflet, loaded once and only when a page has a map (used by maps.js and watch.js). */
(function () {
  "use strict";
  var loading = null;
  function load(el) {
    if (window.L) return Promise.resolve();
    if (loading) return loading;
    // The map is drawn only once both have arrived: unstyled, its controls would be
    // tiny unlabelled links for a moment.
    function fetched(tag, attrs) {
      return new Promise(function (resolve, reject) {
        var node = document.createElement(tag);
        Object.keys(attrs).forEach(function (name) { node[name] = attrs[name]; });
        node.onload = resolve;
        node.onerror = reject;
        document.head.appendChild(node);
      });
    }
    loading = Promise.all([
      fetched("link", { rel: "stylesheet", href: el.getAttribute("data-leaflet-css") }),
      fetched("script", { src: el.getAttribute("data-leaflet") })
    ]);
    return loading;
  }
  function tiles(el) {
    return L.tileLayer(el.getAttribute("data-tiles"), {
      maxZoom: 19,
      attribution: "&copy; " + window.bpt311._("OpenStreetMap contributors")
    });
  }
  window.bpt311Maps = { load: load, tiles: tiles };
})();
