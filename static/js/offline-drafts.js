/* Reports saved on this phone while offline, and the reports this phone has filed.
   Used by the pages (pwa.js) and by the service worker (importScripts), so both send
   drafts the same way. Kept in IndexedDB: "drafts" waiting to be sent (fields, photos as
   Blobs) and "filed" (tracking number, category, date) for the offline page.
   A draft carries its form's submission_key, so sending it twice makes one report. */
(function (scope) {
  "use strict";
  var DB_NAME = "bpt311";
  var VERSION = 1;
  var PHOTO_LIMIT = 8 * 1024 * 1024;   // per photo kept offline
  var TOTAL_LIMIT = 25 * 1024 * 1024;  // all photos of one draft
  var TRACKING = /\/reports\/([A-Za-z0-9-]+)\/submitted\/?$/;

  function open() {
    return new Promise(function (resolve, reject) {
      var request = scope.indexedDB.open(DB_NAME, VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("drafts")) db.createObjectStore("drafts", { keyPath: "id", autoIncrement: true });
        if (!db.objectStoreNames.contains("filed")) db.createObjectStore("filed", { keyPath: "tracking" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(storeName, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(storeName, mode);
        var result;
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
        var stores = Array.isArray(storeName)
          ? storeName.map(function (name) { return tx.objectStore(name); })
          : [tx.objectStore(storeName)];
        work.apply(null, stores.concat([function (value) { result = value; }]));
      });
    });
  }

  function all(storeName) {
    return run(storeName, "readonly", function (store, done) {
      var request = store.getAll();
      request.onsuccess = function () { done(request.result || []); };
    });
  }

  function put(storeName, record) {
    return run(storeName, "readwrite", function (store, done) {
      var request = store.put(record);
      request.onsuccess = function () { done(request.result); };
    });
  }

  function remove(storeName, key) {
    return run(storeName, "readwrite", function (store) { store.delete(key); });
  }

  /* A form's fields as the server would receive them, with its photos as Blobs.
     Returns {draft, skipped}: photos too large to keep are left out and named. */
  function fromForm(form, categoryName) {
    var fields = [];
    var photos = [];
    var skipped = [];
    var total = 0;
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") { fields.push([name, value]); return; }
      if (!value || !value.size || name !== "photos") return;  // empty inputs; videos are too big to keep
      if (value.size > PHOTO_LIMIT || total + value.size > TOTAL_LIMIT) { skipped.push(value.name); return; }
      total += value.size;
      photos.push({ name: value.name, type: value.type, blob: value.slice(0, value.size, value.type) });
    });
    var video = form.querySelector("input[type=file][name=video]");
    if (video && video.files && video.files.length) skipped.push(video.files[0].name);
    return {
      draft: {
        version: 1,
        action: form.getAttribute("action"),
        categoryName: categoryName || "",
        created: new Date().toISOString(),
        fields: fields,
        photos: photos,
        status: "waiting"
      },
      skipped: skipped
    };
  }

  function field(draft, name) {
    for (var i = 0; i < draft.fields.length; i++) if (draft.fields[i][0] === name) return draft.fields[i][1];
    return "";
  }

  /* Everything a draft must hold before any of it is sent: nothing goes out half. */
  function isSound(draft) {
    if (!draft || draft.version !== 1 || typeof draft.action !== "string" || !/^\/[^\/]/.test(draft.action)) return false;
    if (!Array.isArray(draft.fields) || !Array.isArray(draft.photos)) return false;
    var fieldsOk = draft.fields.every(function (pair) {
      return Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string";
    });
    var photosOk = draft.photos.every(function (photo) {
      return photo && typeof photo.name === "string" && photo.blob instanceof Blob;
    });
    return fieldsOk && photosOk && !!field(draft, "submission_key") && !!field(draft, "category");
  }

  function save(draft) { return put("drafts", draft); }

  function freshToken() {
    // The session's CSRF token, as every page carries it on <body hx-headers>.
    return fetch("/reports/new", { credentials: "same-origin" }).then(function (response) {
      return response.text();
    }).then(function (html) {
      var match = /"X-CSRFToken": "([^"]+)"/.exec(html);
      return match ? match[1] : "";
    });
  }

  function post(draft, token) {
    var body = new FormData();
    draft.fields.forEach(function (pair) {
      if (pair[0] === "csrf_token" && token) return;
      body.append(pair[0], pair[1]);
    });
    if (token) body.append("csrf_token", token);
    // The resident could not be shown nearby reports offline; they chose to send it.
    if (!field(draft, "not_duplicate")) body.append("not_duplicate", "1");
    draft.photos.forEach(function (photo) { body.append("photos", photo.blob, photo.name); });
    return fetch(draft.action, { method: "POST", body: body, credentials: "same-origin" });
  }

  /* Send one draft: "sent" (with its tracking number), "later" (no connection, server
     busy) or "attention" (the server wants the resident to change something). */
  function sendOne(draft) {
    return post(draft, "").then(function (response) {
      if (response.status === 400) return freshToken().then(function (token) { return post(draft, token); });
      return response;
    }).then(function (response) {
      var match = TRACKING.exec(new URL(response.url).pathname);
      if (response.ok && match) {
        var filed = { tracking: match[1], category: draft.categoryName, date: draft.created, announced: false };
        return run(["drafts", "filed"], "readwrite", function (drafts, filedStore) {
          drafts.delete(draft.id);
          filedStore.put(filed);
        }).then(function () { return { result: "sent", tracking: match[1] }; });
      }
      if (response.status === 429 || response.status >= 500) return { result: "later" };
      draft.status = "attention";
      return save(draft).then(function () { return { result: "attention" }; });
    }, function () { return { result: "later" }; });
  }

  function sendAllNow() {
    var outcome = { sent: [], attention: 0, corrupt: 0, waiting: 0 };
    return all("drafts").then(function (drafts) {
      return drafts.reduce(function (chain, draft) {
        return chain.then(function () {
          if (!isSound(draft)) {
            outcome.corrupt += 1;
            return remove("drafts", draft.id);
          }
          if (draft.status === "attention") return null;  // told already; waits for the resident
          return sendOne(draft).then(function (result) {
            if (result.result === "sent") outcome.sent.push(result.tracking);
            else if (result.result === "attention") outcome.attention += 1;
            else outcome.waiting += 1;
          });
        });
      }, Promise.resolve());
    }).then(function () { return outcome; });
  }

  /* One sender at a time across pages and the worker (the key makes a race harmless). */
  function sendAll() {
    if (scope.navigator && scope.navigator.locks) {
      return scope.navigator.locks.request("bpt311-drafts", sendAllNow);
    }
    return sendAllNow();
  }

  function recordFiled(tracking, categoryName) {
    return put("filed", { tracking: tracking, category: categoryName || "", date: new Date().toISOString(), announced: true });
  }

  scope.bpt311Drafts = {
    PHOTO_LIMIT: PHOTO_LIMIT,
    fromForm: fromForm,
    save: save,
    sendAll: sendAll,
    drafts: function () { return all("drafts"); },
    filed: function () { return all("filed"); },
    forget: function (id) { return remove("drafts", id); },
    markAnnounced: function (record) { record.announced = true; return put("filed", record); },
    recordFiled: recordFiled,
    field: field,
    isSound: isSound
  };
})(self);
