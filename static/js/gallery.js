// Gallery page: drag-and-drop / picker uploads (one request per photo, so
// each shows its own progress and error) and live status of every photo.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("id_photos");
  var grid = document.getElementById("photo-grid");
  var errors = document.getElementById("upload-errors");
  var emptyNote = document.getElementById("empty-note");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var pollTimer = null;
  var POLL_MS = 1500;

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
    a.href = photo.url;
    var img = el("img");
    img.src = photo.thumbnail;
    img.alt = photo.name || "Photo";
    img.width = 240; img.height = 180;
    a.appendChild(img);
    a.appendChild(el("span", "photo-name", photo.name || ""));
    li.appendChild(a);
    var badge = el("span", "badge status-" + photo.status, photo.label);
    badge.setAttribute("role", "status");
    li.appendChild(badge);
    return li;
  }

  function update(photo) {
    var li = grid.querySelector('[data-photo-id="' + photo.id + '"]');
    if (!li) return;
    if (li.dataset.status === photo.status) {
      li.querySelector(".badge").textContent = photo.label;
      return;
    }
    li.dataset.status = photo.status;
    var badge = li.querySelector(".badge");
    badge.className = "badge status-" + photo.status;
    badge.textContent = photo.label;
    if (photo.error) badge.title = photo.error;
    li.querySelector("img").src = photo.thumbnail;
  }

  function pending() {
    return grid.querySelector('[data-status="queued"], [data-status="running"]');
  }

  function poll() {
    clearTimeout(pollTimer);
    if (!pending()) return;
    fetch(form.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) { data.photos.forEach(update); })
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
    data.append("photos", file);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) badge.textContent = "Uploading " + Math.round(100 * e.loaded / e.total) + "%";
    };
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 201 && body) {
        body.photos.forEach(function (p) {
          grid.insertBefore(card(p), placeholder);
        });
        placeholder.remove();
        poll();
      } else {
        placeholder.remove();
        var msgs = body && body.errors ? body.errors : ["Uploading " + file.name + " failed (HTTP " + xhr.status + ")."];
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
