// Photo page: before/after slider, vividness re-render, live status; re-renders and status
// through the REST API (/api/v1/) with the browser's session, as any other client.
(function () {
  "use strict";

  // Before/after: a native range input over the image, so keyboard,
  // touch and screen readers work without extra code.
  var compare = document.getElementById("compare");
  var range = document.getElementById("compare-range");
  if (compare && range) {
    var setPos = function () {
      compare.style.setProperty("--pos", range.value + "%");
      range.setAttribute("aria-valuetext", range.value + "% original shown");
    };
    range.addEventListener("input", setPos);
    setPos();
  }

  // Vividness: when the control is released (mouse) or changed (keyboard),
  // ask for a re-render (a job decodes the stored prediction), then poll the
  // photo's status until it is done and show the new colors.
  var vivid = document.getElementById("vividness");
  var after = document.getElementById("after-image");
  var state = document.getElementById("render-state");
  var csrfInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  // "no-cache": always ask the server, with the last answer's ETag; an unchanged status is a
  // 304 with no body, and the browser hands back the body it kept.
  var getPhoto = function (url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-cache" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
  };
  // The API's error body in a sentence: {"detail": ...} or lists of messages per field.
  var messageOf = function (body, status) {
    if (body && body.detail) return body.detail;
    var lists = body && typeof body === "object" ? Object.keys(body).map(function (k) { return body[k]; }) : [];
    var first = lists.filter(Array.isArray)[0];
    return first ? first.join(" ") : "HTTP " + status;
  };
  if (vivid && after && csrfInput) {
    var inFlight = false, again = false;
    var finish = function () {
      inFlight = false;
      if (again) { again = false; render(); }
    };
    var poll = function () {
      getPhoto(vivid.dataset.apiUrl)
        .then(function (d) {
          if (d.rendering) { setTimeout(poll, 400); return; }
          if (d.render_error) { state.textContent = d.render_error; finish(); return; }
          after.onload = function () { state.textContent = "Vividness " + d.vividness + " saved."; after.onload = null; };
          after.src = d.preview_url;
          finish();
        })
        .catch(function () { setTimeout(poll, 1500); });
    };
    var render = function () {
      if (inFlight) { again = true; return; }
      inFlight = true;
      state.textContent = "Re-coloring…";
      fetch(vivid.dataset.rerenderUrl, {
        method: "POST", body: JSON.stringify({ vividness: Number(vivid.value) }), credentials: "same-origin",
        headers: { "X-CSRFToken": csrfInput.value, "Content-Type": "application/json", Accept: "application/json" }
      })
        .then(function (r) {
          return r.json().catch(function () { return null; })
            .then(function (d) { return r.ok ? d : Promise.reject(messageOf(d, r.status)); });
        })
        .then(function () { setTimeout(poll, 300); })
        .catch(function (err) { state.textContent = "Could not re-color: " + err; finish(); });
    };
    vivid.addEventListener("change", render);
    if (vivid.dataset.rendering === "true") {  // asked before this page loaded
      inFlight = true;
      state.textContent = "Re-coloring…";
      poll();
    }
  }

  // Live status while queued or colorizing: reload when it finishes.
  var badge = document.getElementById("photo-status");
  if (badge && (badge.dataset.status === "queued" || badge.dataset.status === "running")) {
    var pollStatus = function () {
      getPhoto(badge.dataset.apiUrl)
        .then(function (d) {
          if (d.status === "done" || d.status === "failed") { window.location.reload(); return; }
          badge.className = "badge status-" + d.status;
          badge.textContent = d.status_label;
          setTimeout(pollStatus, 1500);
        })
        .catch(function () { setTimeout(pollStatus, 3000); });
    };
    setTimeout(pollStatus, 1500);
  }

  // Confirm destructive forms.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
  });
  // Select the share link on focus, for copying.
  var share = document.getElementById("share-url");
  if (share) share.addEventListener("focus", function () { share.select(); });
})();
