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

/* Sending photos from a phone: shrink the big ones first, show and announce the progress,
   and keep Send disabled until the answer comes (a second tap would send it all again).
   Without this script the form still posts the originals, and Send says it may take a while. */
(function () {
  "use strict";
  var _ = window.bpt311._;
  var SHRINK_ABOVE = 1.5 * 1024 * 1024;  // bytes; smaller photos go as they are
  var MAX_SIDE = 2048;  // the server keeps photos at most this many pixels a side (media.py)
  var SHRINKABLE = /^image\/(jpeg|png|webp)$/;  // what every browser's canvas can decode

  function say(text) {
    var region = document.getElementById("live");
    if (region) region.textContent = text;
  }
  function photoInputs(form) {
    return Array.prototype.filter.call(
      form.querySelectorAll("input[type=file][accept*='image/']"),
      function (input) { return input.files && input.files.length; });
  }
  function hasPlace(form) {
    var lat = form.querySelector("[name=latitude]");
    var address = form.querySelector("[name=address]");
    return Boolean((lat && lat.value) || (address && address.value.trim())
      || form.querySelector("[name=location_choice]:checked"));
  }

  // Does this JPEG carry a GPS position in its EXIF (IFD0 tag 0x8825)? Reads the first 128 KB.
  function hasGps(file) {
    if (file.type !== "image/jpeg") return Promise.resolve(false);
    return file.slice(0, 131072).arrayBuffer().then(function (buffer) {
      var view = new DataView(buffer), at = 2;
      if (view.byteLength < 4 || view.getUint16(0) !== 0xFFD8) return false;
      while (at + 4 <= view.byteLength) {
        var marker = view.getUint16(at), size = view.getUint16(at + 2);
        if (marker === 0xFFE1 && view.getUint32(at + 4) === 0x45786966) {  // "Exif"
          var tiff = at + 10, little = view.getUint16(tiff) === 0x4949;
          var ifd = tiff + view.getUint32(tiff + 4, little);
          var count = view.getUint16(ifd, little);
          for (var i = 0; i < count; i++) {
            if (view.getUint16(ifd + 2 + i * 12, little) === 0x8825) return true;
          }
          return false;
        }
        if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) return false;
        at += 2 + size;
      }
      return false;
    }).catch(function () { return false; });
  }

  // The photo at MAX_SIDE as a JPEG, or the original when that would not be smaller.
  function shrink(file) {
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.85); });
    }).then(function (blob) {
      if (!blob || blob.size >= file.size) return file;
      var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
      return new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified });
    }).catch(function () { return file; });
  }

  // A photo's own GPS is the report's location when the form has none (reports/intake.py
  // offers it), and a canvas copy loses it: such a photo is sent as it is. Once the form
  // has a place, the server never reads the photo's GPS, so it is shrunk like any other.
  function smaller(file, keepGps) {
    if (file.size <= SHRINK_ABOVE || !SHRINKABLE.test(file.type) || !window.createImageBitmap) {
      return Promise.resolve(file);
    }
    return (keepGps ? hasGps(file) : Promise.resolve(false)).then(function (gps) {
      return gps ? file : shrink(file);
    });
  }

  function buttons(form) {
    return form.querySelectorAll("button[type=submit][data-once], input[type=submit][data-once]");
  }
  function hasFiles(form) {
    return Array.prototype.some.call(form.querySelectorAll("input[type=file]"), function (input) {
      return input.files && input.files.length;
    });
  }

  // Before anyone else sees the submit (htmx, pwa.js): shrink, then submit again. Send is
  // only marked aria-disabled meanwhile: a disabled button loses focus, and htmx would then
  // forget which button was pressed ("No, mine is different" sends not_duplicate).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.getAttribute("data-photos-ready") === "1") { form.removeAttribute("data-photos-ready"); return; }
    if (form.getAttribute("data-shrinking") === "1") {  // a second tap while shrinking
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var inputs = photoInputs(form);
    var big = inputs.some(function (input) {
      return Array.prototype.some.call(input.files, function (f) { return f.size > SHRINK_ABOVE; });
    });
    if (!big || typeof DataTransfer === "undefined") return;
    event.preventDefault();
    event.stopImmediatePropagation();
    var submitter = event.submitter;
    form.setAttribute("data-shrinking", "1");
    form.setAttribute("aria-busy", "true");
    buttons(form).forEach(function (button) { button.setAttribute("aria-disabled", "true"); });
    say(_("Making your photos smaller before sending…"));
    var keepGps = !hasPlace(form);
    Promise.all(inputs.map(function (input) {
      return Promise.all(Array.prototype.map.call(input.files, function (f) { return smaller(f, keepGps); }))
        .then(function (files) {
          var list = new DataTransfer();
          files.forEach(function (f) { list.items.add(f); });
          input.files = list.files;
        });
    })).catch(function () { /* send what there is */ }).then(function () {
      form.removeAttribute("data-shrinking");
      buttons(form).forEach(function (button) { button.removeAttribute("aria-disabled"); });
      form.setAttribute("data-photos-ready", "1");
      if (submitter && submitter.form === form) form.requestSubmit(submitter); else form.requestSubmit();
    });
  }, true);

  // htmx sends it: Send stays disabled, and a bar and the live region say how far it got.
  document.addEventListener("htmx:beforeSend", function (event) {
    var form = event.detail.elt;
    var xhr = event.detail.xhr;
    if (!form || form.tagName !== "FORM" || !hasFiles(form)) return;
    form.setAttribute("aria-busy", "true");
    var send = buttons(form);
    send.forEach(function (button) { button.disabled = true; });
    var bar = document.createElement("progress");
    bar.className = "upload-progress";
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", _("Sending your report"));
    var last = send[send.length - 1];
    if (last && last.parentNode) last.parentNode.insertBefore(bar, last.nextSibling); else form.appendChild(bar);
    var step = 0;
    var format = function (percent) {
      try { return new Intl.NumberFormat(document.documentElement.lang || "en", { style: "percent" }).format(percent / 100); }
      catch (e) { return percent + " %"; }
    };
    say(_("Sending… %(percent)s", { percent: format(0) }));
    xhr.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable || !progress.total) return;
      var percent = Math.floor(progress.loaded * 100 / progress.total);
      bar.value = percent;
      var now = Math.floor(percent / 20) * 20;  // said every 20 %, not on every event
      if (now !== step) { step = now; say(_("Sending… %(percent)s", { percent: format(now) })); }
    });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form || form.tagName !== "FORM") return;
    var bar = form.querySelector(".upload-progress");
    if (bar) bar.remove();
    form.removeAttribute("aria-busy");
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
    ]).then(prepare);
    return loading;
  }
  // What every map on the site does, whoever creates it (maps.js, watch.js).
  function prepare() {
    // The attribution stays visible but is not a tab stop: a keyboard user would otherwise
    // meet "Leaflet" and "OpenStreetMap" links between the map and the form's next field.
    var update = L.Control.Attribution.prototype._update;
    L.Control.Attribution.include({
      _update: function () {
        update.apply(this, arguments);
        if (this._container) {
          this._container.querySelectorAll("a").forEach(function (a) { a.setAttribute("tabindex", "-1"); });
        }
      }
    });
    // The default pin's shadow exists only at 1x: blurry on a phone's screen (Lighthouse's
    // image-size-responsive), and a picture no one needs to read the pin.
    L.Icon.Default.include({ createShadow: function () { return null; } });
    // On a touch screen one finger scrolls the page, as everywhere else; two fingers move
    // and zoom the map (Leaflet's pinch follows the fingers), and a hint says so.
    var touch = L.Browser.mobile || (window.matchMedia && window.matchMedia("(pointer: coarse)").matches);
    if (!touch) return;
    L.Map.addInitHook(function () {
      var map = this, container = map.getContainer(), timer = null;
      map.dragging.disable();
      if (map.tap && map.tap.disable) map.tap.disable();
      var hint = document.createElement("p");
      hint.className = "map-hint";
      hint.setAttribute("aria-hidden", "true");  // a touch gesture hint; the map has its own label
      hint.textContent = window.bpt311._("Use two fingers to move the map");
      container.appendChild(hint);
      container.addEventListener("touchmove", function (event) {
        var one = event.touches.length === 1;
        hint.classList.toggle("map-hint--shown", one);
        window.clearTimeout(timer);
        if (one) timer = window.setTimeout(function () { hint.classList.remove("map-hint--shown"); }, 1500);
      }, { passive: true });
      container.addEventListener("touchend", function (event) {
        if (!event.touches.length) {
          window.clearTimeout(timer);
          timer = window.setTimeout(function () { hint.classList.remove("map-hint--shown"); }, 1000);
        }
      }, { passive: true });
    });
  }
  function tiles(el) {
    return L.tileLayer(el.getAttribute("data-tiles"), {
      maxZoom: 19,
      attribution: "&copy; " + window.bpt311._("OpenStreetMap contributors")
    });
  }
  window.bpt311Maps = { load: load, tiles: tiles };
})();
