/* Maps for Bridgeport 311: the pin picker on the report form and small report maps.
   Leaflet is loaded only when a map is on the page. Everything works without it:
   the address field is always there, and every map has its place in words beside it. */
(function () {
  "use strict";
  var CITY_HALL = [41.1792, -73.1894];
  var loadLeaflet = window.bpt311Maps.load;  // site.js
  var tiles = window.bpt311Maps.tiles;
  var _ = window.bpt311._;  // site.js: words in the page's language
  var ngettext = window.bpt311.ngettext;

  function say(text) {
    var region = document.getElementById("live");
    if (region) { region.textContent = ""; setTimeout(function () { region.textContent = text; }, 50); }
  }

  // Work that can wait for a quiet moment, so it never blocks a tap or the first screen.
  function whenIdle(work) {
    if (window.requestIdleCallback) window.requestIdleCallback(work, { timeout: 2000 });
    else window.setTimeout(work, 100);
  }

  function initSmallMap(el) {
    if (el.getAttribute("data-ready")) return;
    el.setAttribute("data-ready", "1");
    // Decoration only: Leaflet (40 KB, about 150 ms of script on a slow phone) is fetched
    // when the map scrolls into view, not while the first screen loads just above it (a
    // report page's total blocking time was 290 ms on a throttled phone, half of it this
    // map). Its box is shown at once, empty, so nothing moves when the map is drawn in it.
    el.hidden = false;
    el.setAttribute("aria-busy", "true");
    if (!window.IntersectionObserver) { whenIdle(function () { showSmallMap(el); }); return; }
    var watcher = new IntersectionObserver(function (entries) {
      if (!entries.some(function (entry) { return entry.isIntersecting; })) return;
      watcher.disconnect();
      whenIdle(function () { showSmallMap(el); });
    });
    watcher.observe(el);
  }

  function showSmallMap(el) {
    loadLeaflet(el).then(function () {
      // Leaflet's own start-up and drawing the map: two tasks, not one long one.
      whenIdle(function () {
        var point = [parseFloat(el.getAttribute("data-lat")), parseFloat(el.getAttribute("data-lon"))];
        var map = L.map(el, { scrollWheelZoom: false }).setView(point, 16);
        tiles(el).addTo(map);
        L.marker(point, { keyboard: false, alt: el.getAttribute("data-label") || "" }).addTo(map);
        el.removeAttribute("aria-busy");
      });
    }).catch(function () { el.remove(); });
  }

  function checkNearby(form) {
    var slot = form.querySelector("#duplicates");
    var lat = form.querySelector("[name=latitude]").value;
    var lon = form.querySelector("[name=longitude]").value;
    var category = form.querySelector("[name=category]").value;
    if (!slot || !lat || !lon || !window.htmx) return;
    var url = form.getAttribute("data-nearby-url") + "?" + new URLSearchParams({
      category: category, latitude: lat, longitude: lon
    }).toString();
    window.htmx.ajax("GET", url, { target: slot, swap: "innerHTML" });
  }

  function initPicker(form) {
    var tools = form.querySelector(".map-tools");
    if (!tools || form.getAttribute("data-ready")) return;
    form.setAttribute("data-ready", "1");
    var mapEl = form.querySelector("#map");
    var lat = form.querySelector("[name=latitude]");
    var lon = form.querySelector("[name=longitude]");
    var status = form.querySelector("#location-status");
    var map = null, marker = null;
    tools.hidden = false;

    function tell(text) { status.textContent = text; }
    var MOVED = _("The pin was moved.");

    var locatedFor = form.querySelector("[name=located_for]");
    var address = form.querySelector("[name=address]");
    var hereUrl = form.getAttribute("data-here-url");
    var lookup = 0;
    // The pin's address, said at once (#22 item 8): the status line speaks it, and an empty
    // address field (or one the pin filled in before) takes it, to send with the report.
    function describe(latitude, longitude, how) {
      if (!hereUrl || !window.fetch) return;
      var mine = ++lookup;
      var url = hereUrl + "?" + new URLSearchParams({ lat: latitude.toFixed(6), lon: longitude.toFixed(6) }).toString();
      fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (found) {
        if (!found || mine !== lookup) return;  // a newer pin is being looked up
        if (found.problem) { tell(how + " " + found.problem); return; }
        if (address && found.address && (!address.value.trim() || address.value === address.getAttribute("data-from-pin"))) {
          address.value = found.address;
          address.setAttribute("data-from-pin", found.address);
        }
        tell(how + " " + _("The pin is at %(place)s.", { place: found.label }) + " " + _("The report will use this point; you may still type an address to describe it."));
      }).catch(function () { /* the point is kept; the status line already says so */ });
    }
    function place(latitude, longitude, how) {
      lat.value = latitude.toFixed(6);
      lon.value = longitude.toFixed(6);
      if (locatedFor) locatedFor.value = "";  // the pin is the resident's: the address only describes it
      if (map) {
        var latlng = L.latLng(latitude, longitude);
        if (!marker) {
          marker = L.marker(latlng, { draggable: true, title: _("Problem location"), alt: _("Pin at the problem location") }).addTo(map);
          marker.on("dragend", function () {
            var p = marker.getLatLng();
            place(p.lat, p.lng, MOVED);
          });
        } else {
          marker.setLatLng(latlng);
        }
        if (how !== MOVED) map.setView(latlng, Math.max(map.getZoom(), 17));
      }
      tell(how + " " + _("The report will use this point; you may still type an address to describe it."));
      describe(latitude, longitude, how);
      checkNearby(form);
    }

    form.querySelector("[data-action=locate]").addEventListener("click", function () {
      if (!navigator.geolocation) { tell(_("This browser cannot share your location. Place the pin on the map or type the address.")); return; }
      tell(_("Finding your location…"));
      navigator.geolocation.getCurrentPosition(function (pos) {
        place(pos.coords.latitude, pos.coords.longitude, _("Your location was found."));
      }, function (error) {
        tell(error.code === 1
          ? _("You did not allow us to use your location. Place the pin on the map or type the address instead.")
          : _("Your location could not be found just now. Place the pin on the map or type the address instead."));
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });

    loadLeaflet(mapEl).then(function () {
      var has = lat.value && lon.value;
      var start = has ? [parseFloat(lat.value), parseFloat(lon.value)] : CITY_HALL;
      map = L.map(mapEl, { keyboard: true }).setView(start, has ? 17 : 14);
      tiles(mapEl).addTo(map);
      if (has) place(start[0], start[1], _("The pin is where you put it."));
      map.on("click", function (event) { place(event.latlng.lat, event.latlng.lng, _("The pin was placed.")); });
      form.querySelector("[data-action=centre-pin]").addEventListener("click", function () {
        var c = map.getCenter();
        place(c.lat, c.lng, _("The pin was put at the centre of the map."));
      });
    }).catch(function () {
      mapEl.remove();
      form.querySelector("[data-action=centre-pin]").remove();
      tell(_("The map could not be loaded. Type the address or use your location."));
    });
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // The GeoJSON is data, in English: the status is said in the page's language here.
  function statusLabel(props) {
    var labels = {
      open: _("Open"), acknowledged: _("Acknowledged"), closed: _("Closed"), archived: _("Closed (archived)")
    };
    return labels[props.status] || props.status_label;
  }

  function popupFor(props) {
    // Built from DOM nodes with textContent: report text is never parsed as HTML.
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = props.url;
    link.textContent = props.category + " (" + props.tracking_number + ")";
    var status = document.createElement("p");
    status.textContent = statusLabel(props) + (props.address ? " · " + props.address : "");
    var text = document.createElement("p");
    text.textContent = props.description.length > 140 ? props.description.slice(0, 139) + "…" : props.description;
    box.appendChild(link); box.appendChild(status); box.appendChild(text);
    return box;
  }

  // A count on the map: how many reports the server found in one cell of its grid at this
  // zoom. A button (Leaflet gives keyboard markers role=button and a tab stop) named
  // "N reports here"; activating it zooms in towards them.
  function clusterMarker(map, feature, fromKeyboard) {
    var count = feature.properties.count;
    var lang = document.documentElement.lang || "en";
    var name = ngettext("%(count)s report here", "%(count)s reports here", count, { count: count.toLocaleString(lang) });
    var digits = String(count).length;
    var size = 30 + 6 * Math.min(digits, 6);
    var label = document.createElement("span");
    label.textContent = count.toLocaleString(lang);
    var c = feature.geometry.coordinates;
    var latlng = L.latLng(c[1], c[0]);
    var marker = L.marker(latlng, {
      icon: L.divIcon({ className: "map-cluster", html: label, iconSize: [size, size] }),
      title: name
    });
    function zoomIn() { map.setView(latlng, Math.min(map.getZoom() + 2, map.getMaxZoom())); }
    marker.on("click", zoomIn);
    marker.on("add", function () {
      var icon = marker.getElement();
      icon.setAttribute("aria-label", name);
      icon.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); fromKeyboard(); zoomIn(); }
      });
    });
    return marker;
  }

  function pinMarker(feature) {
    var p = feature.properties;
    var group = p.status === "archived" ? "closed" : p.status;
    var icon = L.divIcon({ className: "pin pin--" + group, html: group === "closed" ? "✓" : "", iconSize: [24, 24] });
    var c = feature.geometry.coordinates;
    return L.marker([c[1], c[0]], { icon: icon, title: p.category + ", " + statusLabel(p) + ", " + p.tracking_number })
      .bindPopup(popupFor(p));
  }

  function initReportsMap(el) {
    if (el.getAttribute("data-ready")) return;
    el.setAttribute("data-ready", "1");
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = el.getAttribute("data-cluster-css");
    document.head.appendChild(css);
    loadLeaflet(el).then(function () {
      return window.L.markerClusterGroup ? null : loadScript(el.getAttribute("data-cluster"));
    }).then(function () {
      el.hidden = false;
      var map = L.map(el).setView(CITY_HALL, 13);
      tiles(el).addTo(map);
      // Below street level the server counts reports on a grid (counts); at street level it
      // sends the reports themselves, which the browser still groups where pins overlap.
      var counts = L.layerGroup().addTo(map);
      var pins = L.markerClusterGroup({ showCoverageOnHover: false });
      map.addLayer(pins);
      var timer = null, lastUrl = "", refocus = false;
      var lang = document.documentElement.lang || "en";
      // Zoomed in from a count with the keyboard: the count is gone with the old view, so
      // focus goes to what is now nearest the centre (a count or a pin), else the map.
      function keyboardZoom() { refocus = true; }
      function focusNearCentre() {
        var centre = map.latLngToContainerPoint(map.getCenter()), best = null, bestDistance = Infinity;
        [counts, pins].forEach(function (group) {
          group.eachLayer(function (layer) {
            if (!layer.getElement || !layer.getElement()) return;
            var distance = map.latLngToContainerPoint(layer.getLatLng()).distanceTo(centre);
            if (distance < bestDistance) { best = layer.getElement(); bestDistance = distance; }
          });
        });
        (best || el).focus();
      }

      function load() {
        var form = document.querySelector(el.getAttribute("data-form"));
        var params = new URLSearchParams(form ? new FormData(form) : undefined);
        params.delete("page");
        var b = map.getBounds();
        var box = [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180), Math.min(b.getNorth(), 90)];
        params.set("bbox", box.map(function (v) { return v.toFixed(5); }).join(","));
        params.set("zoom", String(Math.round(map.getZoom())));
        var url = el.getAttribute("data-geojson") + "?" + params.toString();
        if (url === lastUrl) return;
        lastUrl = url;
        fetch(url, { headers: { Accept: "application/geo+json" } }).then(function (r) {
          return r.ok ? r.json() : null;
        }).then(function (data) {
          if (!data || url !== lastUrl) return;  // an answer for a view already left
          counts.clearLayers();
          pins.clearLayers();
          if (data.clustered) {
            data.features.forEach(function (feature) { clusterMarker(map, feature, keyboardZoom).addTo(counts); });
          } else {
            pins.addLayers(data.features.map(pinMarker));
          }
          if (refocus) { refocus = false; focusNearCentre(); }
          var count = data.clustered ? data.total : data.features.length;
          var words = { count: count.toLocaleString(lang) };
          say(data.truncated
            ? _("The newest %(count)s reports here are on the map; zoom in to see the rest, or use the list.", words)
            : ngettext("%(count)s report on the map", "%(count)s reports on the map", count, words));
        }).catch(function () { /* the list below still has them */ });
      }
      map.on("moveend", function () { clearTimeout(timer); timer = setTimeout(load, 300); });
      chooseHere(el, map);
      document.addEventListener("htmx:afterSettle", function (event) {
        if (event.detail.elt && event.detail.elt.id === "results") load();
      });
      load();
    }).catch(function () { el.remove(); });
  }

  // Location first (#22 item 8): a click or tap on the map, or the centre button, puts a pin
  // there and asks for the reports near it, with its address and "Report a problem here".
  function chooseHere(el, map) {
    var url = el.getAttribute("data-here");
    var tools = document.querySelector(".here-tools");
    var slot = document.getElementById("here-slot");
    if (!url || !tools || !slot || !window.htmx) return;
    var pin = null;
    function show(latlng) {
      if (!pin) {
        pin = L.marker(latlng, { keyboard: false, title: _("The place you chose"), alt: _("Pin at the place you chose") }).addTo(map);
      } else {
        pin.setLatLng(latlng);
      }
      var query = new URLSearchParams({ lat: latlng.lat.toFixed(6), lon: latlng.lng.toFixed(6) }).toString();
      window.htmx.ajax("GET", url + "?" + query, { target: slot, swap: "innerHTML" });
    }
    tools.hidden = false;
    map.on("click", function (event) { show(event.latlng); });
    tools.querySelector("[data-action=here-centre]").addEventListener("click", function () { show(map.getCenter()); });
    // Arrived "near me" or near an address: that place is the one chosen.
    var form = document.querySelector(el.getAttribute("data-form"));
    var lat = form && form.querySelector("input[name=lat]");
    var lon = form && form.querySelector("input[name=lon]");
    if (lat && lon && lat.value && lon.value) {
      var latlng = L.latLng(parseFloat(lat.value), parseFloat(lon.value));
      map.setView(latlng, 16);
      show(latlng);
    }
  }

  function init(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("form.report-form").forEach(initPicker);
    if (root.matches && root.matches("form.report-form")) initPicker(root);
    root.querySelectorAll("[data-map-point]").forEach(initSmallMap);
    root.querySelectorAll("#reports-map").forEach(initReportsMap);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
  window.bpt311Say = say;
})();
