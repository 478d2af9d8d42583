/* Watch areas for Bridgeport 311: drawing an area on the map, showing one, and keeping
   focus sensible when a notification is marked read. Everything works without it: an area
   can be set around an address or as a neighbourhood, and every map has its words beside it.
   Leaflet is loaded only when a map is on the page. */
(function () {
  "use strict";
  var CITY_HALL = [41.1792, -73.1894];
  var MAX_POINTS = 500;
  var loadLeaflet = window.bpt311Maps.load;  // site.js
  var tiles = window.bpt311Maps.tiles;
  var _ = window.bpt311._;  // site.js: words in the page's language
  var ngettext = window.bpt311.ngettext;

  function parse(text) {
    try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
  }

  // A stored area as a Leaflet layer: a circle from its centre and radius, else GeoJSON.
  function areaLayer(geometry, radius, options) {
    if (!geometry) return null;
    if (geometry.type === "Point") {
      var c = geometry.coordinates;
      return L.circle([c[1], c[0]], Object.assign({ radius: parseFloat(radius) || 0 }, options));
    }
    return L.geoJSON(geometry, { style: function () { return options; } });
  }

  /* ---- showing an area ------------------------------------------------------------- */

  function initAreaMap(el) {
    if (el.getAttribute("data-ready")) return;
    el.setAttribute("data-ready", "1");
    loadLeaflet(el).then(function () {
      el.hidden = false;
      var map = L.map(el, { scrollWheelZoom: false }).setView(CITY_HALL, 14);
      tiles(el).addTo(map);
      var layer = areaLayer(parse(el.getAttribute("data-geometry")), el.getAttribute("data-radius"),
        { color: "#1d70b8", weight: 3, fillOpacity: 0.15, interactive: false });
      if (layer) {
        layer.addTo(map);
        map.fitBounds(layer.getBounds(), { padding: [16, 16] });
      }
    }).catch(function () { el.remove(); });
  }

  /* ---- drawing an area -------------------------------------------------------------- */

  function initDrawing(box) {
    if (box.getAttribute("data-ready")) return;
    box.setAttribute("data-ready", "1");
    var form = box.closest("form");
    var geometry = form.querySelector("[name=geometry]");
    var mapRadius = form.querySelector("[name=map_radius]");
    var status = box.querySelector("#draw-status");
    var radiusField = box.querySelector("[data-draw-radius]");
    var radiusInput = box.querySelector("#draw-radius");
    var mapEl = box.querySelector("#watch-map");
    var modeButtons = box.querySelectorAll("[data-draw]");
    var mode = null, points = [], centre = null, map = null, drawn = null, dots = null;

    function tell(text) { status.textContent = text; }

    function chooseMapMethod() {
      var radio = form.querySelector("input[name=method][value=map]");
      if (radio) radio.checked = true;
    }

    function setMode(next) {
      mode = next;
      modeButtons.forEach(function (button) {
        button.setAttribute("aria-pressed", button.getAttribute("data-draw") === mode ? "true" : "false");
      });
      radiusField.hidden = mode !== "circle";
      points = []; centre = null;
      redraw();
      tell(mode === "circle"
        ? _("Click or tap the map to put the centre of the circle, then set its radius.")
        : _("Click or tap the map to add the corners of the area, in order around it."));
    }

    function write() {
      if (mode === "circle" && centre) {
        geometry.value = JSON.stringify({ type: "Point", coordinates: [round(centre.lng), round(centre.lat)] });
        mapRadius.value = radiusInput.value;
      } else if (mode === "polygon" && points.length >= 3) {
        var ring = points.map(function (p) { return [round(p.lng), round(p.lat)]; });
        ring.push(ring[0]);
        geometry.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
        mapRadius.value = "";
      } else {
        geometry.value = "";
        mapRadius.value = "";
      }
    }

    function round(value) { return Math.round(value * 1e6) / 1e6; }

    function redraw() {
      if (!map) return;
      if (drawn) { map.removeLayer(drawn); drawn = null; }
      dots.clearLayers();
      var style = { color: "#d4351c", weight: 3, fillOpacity: 0.15 };
      if (mode === "circle" && centre) {
        drawn = L.circle(centre, Object.assign({ radius: parseFloat(radiusInput.value) || 0 }, style)).addTo(map);
      } else if (mode === "polygon" && points.length) {
        drawn = (points.length >= 3 ? L.polygon(points, style) : L.polyline(points, style)).addTo(map);
        points.forEach(function (p) { L.circleMarker(p, { radius: 4, color: "#d4351c", interactive: false }).addTo(dots); });
      }
      write();
    }

    function add(latlng) {
      if (!mode) setMode("polygon");
      chooseMapMethod();
      if (mode === "circle") {
        centre = latlng;
        redraw();
        tell(_("The centre is placed. The circle has a radius of %(radius)s metres.", { radius: radiusInput.value }));
        return;
      }
      if (points.length >= MAX_POINTS) {
        tell(_("An area can have at most %(count)s corners.", { count: MAX_POINTS }));
        return;
      }
      points.push(latlng);
      redraw();
      tell(points.length < 3
        ? ngettext("Corner %(corner)s added. Add at least %(num)s more.",
            "Corner %(corner)s added. Add at least %(num)s more.", 3 - points.length, { corner: points.length })
        : ngettext("%(num)s corner: the area is drawn. Add more corners, or save.",
            "%(num)s corners: the area is drawn. Add more corners, or save.", points.length));
    }

    modeButtons.forEach(function (button) {
      button.addEventListener("click", function () { setMode(button.getAttribute("data-draw")); });
    });
    radiusInput.addEventListener("input", function () { if (centre) redraw(); });
    box.querySelector("[data-draw-action=centre]").addEventListener("click", function () {
      if (map) add(map.getCenter());
    });
    box.querySelector("[data-draw-action=undo]").addEventListener("click", function () {
      if (mode === "circle") centre = null; else points.pop();
      redraw();
      tell(mode === "circle" ? _("The circle was removed.")
        : ngettext("%(num)s corner left.", "%(num)s corners left.", points.length));
    });
    box.querySelector("[data-draw-action=clear]").addEventListener("click", function () {
      points = []; centre = null;
      redraw();
      tell(_("Nothing is drawn. Click or tap the map to start again."));
    });

    loadLeaflet(box).then(function () {
      box.hidden = false;
      form.querySelectorAll("[data-watch-nojs]").forEach(function (p) { p.remove(); });
      map = L.map(mapEl, { keyboard: true, doubleClickZoom: false }).setView(CITY_HALL, 14);
      tiles(box).addTo(map);
      dots = L.layerGroup().addTo(map);
      var current = areaLayer(parse(box.getAttribute("data-current")), box.getAttribute("data-current-radius"),
        { color: "#505a5f", weight: 2, dashArray: "6 6", fillOpacity: 0.05, interactive: false });
      if (current) {
        current.addTo(map);
        map.fitBounds(current.getBounds(), { padding: [16, 16] });
      }
      restore();
      map.on("click", function (event) { add(event.latlng); });
    }).catch(function () {
      tell(_("The map could not be loaded. Set the area around an address or choose a neighbourhood."));
      mapEl.remove();
    });

    // After a refused form, show what was drawn so it can be fixed rather than redrawn.
    function restore() {
      var sent = parse(geometry.value);
      if (!sent) return;
      if (sent.type === "Point") {
        setMode("circle");
        if (mapRadius.value) radiusInput.value = mapRadius.value;
        centre = L.latLng(sent.coordinates[1], sent.coordinates[0]);
      } else if (sent.type === "Polygon" && sent.coordinates && sent.coordinates[0]) {
        setMode("polygon");
        points = sent.coordinates[0].slice(0, -1).map(function (c) { return L.latLng(c[1], c[0]); });
      }
      redraw();
      if (drawn) map.fitBounds(drawn.getBounds(), { padding: [16, 16] });
      tell(_("What you drew is shown. Change it, or start again."));
    }
  }

  /* ---- notifications: keep focus where the person was -------------------------------- */

  document.addEventListener("htmx:afterSettle", function (event) {
    var el = event.detail.elt;
    if (el && el.id && (el.id.indexOf("notice-") === 0 || el.id === "notices")) el.focus();
  });

  function init(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("[data-watch-area]").forEach(initAreaMap);
    root.querySelectorAll("[data-watch-draw]").forEach(initDrawing);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
