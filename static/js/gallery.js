// Gallery page: drag-and-drop / picker uploads (one request per photo, so
// each shows its own progress and error) and live status of every photo.
// It talks to the REST API (/api/v1/) with the browser's session, as any
// other client does; the quota note follows the answers' X-Quota headers.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("id_photos");
  var grid = document.getElementById("photo-grid");
  var errors = document.getElementById("upload-errors");
  var emptyNote = document.getElementById("empty-note");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var photosUrl = form.dataset.photosUrl;
  var galleryId = form.dataset.gallery;
  var quotaRemaining = document.getElementById("quota-remaining");
  var quotaLimit = document.getElementById("quota-limit");
  var pollTimer = null;
  var POLL_MS = 1500;
  // The most photos one status request lists (the API's largest page).
  var PAGE_SIZE = 100;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function card(photo) {
    var li = el("li", "photo-card");
    li.dataset.photoId = photo.id;
    li.dataset.status = photo.status;
    var a = el("a");
    a.href = photo.page_url;
    var img = el("img");
    img.src = photo.thumbnail_url;
    img.alt = photo.title || "Photo";
    img.width = 240; img.height = 180;
    a.appendChild(img);
    a.appendChild(el("span", "photo-name", photo.title || ""));
    li.appendChild(a);
    var badge = el("span", "badge status-" + photo.status, photo.status_label);
    badge.setAttribute("role", "status");
    li.appendChild(badge);
    return li;
  }

  function update(photo) {
    var li = grid.querySelector('[data-photo-id="' + photo.id + '"]');
    if (!li) return;
    if (li.dataset.status === photo.status) {
      li.querySelector(".badge").textContent = photo.status_label;
      return;
    }
    li.dataset.status = photo.status;
    var badge = li.querySelector(".badge");
    badge.className = "badge status-" + photo.status;
    badge.textContent = photo.status_label;
    if (photo.error) badge.title = photo.error;
    li.querySelector("img").src = photo.thumbnail_url;
  }

  function pendingIds() {
    return Array.prototype.map.call(
      grid.querySelectorAll('[data-status="queued"], [data-status="running"]'),
      function (li) { return li.dataset.photoId; });
  }

  // "no-cache": always ask the server, with the last answer's ETag; an unchanged status is a
  // 304 with no body, and the browser hands back the body it kept.
  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-cache" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
  }

  // The gallery's photos, newest first, page by page until every pending one has been seen
  // (they are nearly always on the first page).
  function fetchPending(url, waiting) {
    return getJson(url).then(function (page) {
      page.results.forEach(function (p) { update(p); delete waiting[p.id]; });
      if (page.next && Object.keys(waiting).length) return fetchPending(page.next, waiting);
    });
  }

  function showQuota(xhr) {
    var remaining = xhr.getResponseHeader("X-Quota-Remaining");
    var limit = xhr.getResponseHeader("X-Quota-Limit");
    if (remaining !== null && quotaRemaining) quotaRemaining.textContent = remaining;
    if (limit !== null && quotaLimit) quotaLimit.textContent = limit;
  }

  // The API's error body in sentences: {"detail": ...} or lists of messages per field.
  function messagesOf(body) {
    if (!body || typeof body !== "object") return [];
    if (body.detail) return [body.detail];
    var out = [];
    Object.keys(body).forEach(function (field) {
      if (Array.isArray(body[field])) out = out.concat(body[field]);
    });
    return out;
  }

  function poll() {
    clearTimeout(pollTimer);
    var ids = pendingIds();
    if (!ids.length) return;
    var waiting = {};
    ids.forEach(function (id) { waiting[id] = true; });
    var query = new URLSearchParams({ gallery: galleryId, page_size: PAGE_SIZE });
    fetchPending(photosUrl + "?" + query, waiting)
      .catch(function () { /* try again on the next tick */ })
      .then(function () { pollTimer = setTimeout(poll, POLL_MS); });
  }

  function showError(message) {
    errors.appendChild(el("li", null, message));
  }

  // One upload at a time: each photo is decoded and checked on the server,
  // and a queue of them shows steady progress rather than a stampede.
  var uploadQueue = [], uploading = false;

  function next() {
    if (uploading || !uploadQueue.length) return;
    uploading = true;
    upload(uploadQueue.shift(), function () { uploading = false; next(); });
  }

  function upload(file, done) {
    var placeholder = el("li", "photo-card uploading");
    placeholder.dataset.status = "uploading";
    var a = el("a");
    var fake = el("img");
    fake.alt = "";
    a.appendChild(fake);
    a.appendChild(el("span", "photo-name", file.name));
    placeholder.appendChild(a);
    var badge = el("span", "badge status-uploading", "Uploading…");
    badge.setAttribute("role", "status");
    placeholder.appendChild(badge);
    grid.insertBefore(placeholder, grid.firstChild);
    emptyNote.hidden = true;

    var data = new FormData();
    data.append("image", file);
    data.append("gallery", galleryId);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", photosUrl);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) badge.textContent = "Uploading " + Math.round(100 * e.loaded / e.total) + "%";
    };
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      showQuota(xhr);
      if (xhr.status === 202 && body) {
        grid.insertBefore(card(body), placeholder);
        placeholder.remove();
        poll();
      } else {
        placeholder.remove();
        var msgs = messagesOf(body);
        if (!msgs.length) msgs = ["Uploading " + file.name + " failed (HTTP " + xhr.status + ")."];
        msgs.forEach(showError);
      }
      if (!grid.children.length) emptyNote.hidden = false;
      done();
    };
    xhr.onerror = function () {
      placeholder.remove();
      showError("Uploading " + file.name + " failed: the connection was lost.");
      done();
    };
    xhr.send(data);
  }

  function uploadAll(files) {
    errors.textContent = "";
    Array.prototype.forEach.call(files, function (f) { uploadQueue.push(f); });
    next();
  }

  input.addEventListener("change", function () {
    if (input.files.length) uploadAll(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (type) {
    form.addEventListener(type, function (e) { e.preventDefault(); form.classList.add("dragover"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    form.addEventListener(type, function (e) { e.preventDefault(); form.classList.remove("dragover"); });
  });
  form.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) uploadAll(e.dataTransfer.files);
  });
  // Dropping a file anywhere else on the page should not navigate away.
  window.addEventListener("dragover", function (e) { e.preventDefault(); });
  window.addEventListener("drop", function (e) { e.preventDefault(); });

  poll();
  // The script is deferred: say when drops and picks are handled (browser tests wait for it).
  form.dataset.ready = "true";
})();
