// Photo page: before/after slider, vividness re-render, live status.
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
  if (vivid && after && csrfInput) {
    var inFlight = false, again = false;
    var finish = function () {
      inFlight = false;
      if (again) { again = false; render(); }
    };
    var poll = function () {
      fetch(vivid.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (d) {
          if (d.rendering) { setTimeout(poll, 400); return; }
          if (d.render_error) { state.textContent = d.render_error; finish(); return; }
          after.onload = function () { state.textContent = "Vividness " + d.vividness + " saved."; after.onload = null; };
          after.src = d.after;
          finish();
        })
        .catch(function () { setTimeout(poll, 1500); });
    };
    var render = function () {
      if (inFlight) { again = true; return; }
      inFlight = true;
      state.textContent = "Re-coloring…";
      var body = new URLSearchParams({ vividness: vivid.value });
      fetch(vivid.dataset.renderUrl, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfInput.value, Accept: "application/json" }
      })
        .then(function (r) { return r.json().then(function (d) { return r.ok ? d : Promise.reject(d.error || r.status); }); })
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
    var poll = function () {
      fetch(badge.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (d) {
          if (d.finished) { window.location.reload(); return; }
          badge.className = "badge status-" + d.status;
          badge.textContent = d.label;
          setTimeout(poll, 1500);
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1500);
  }

  // Confirm destructive forms.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
  });
  // Select the share link on focus, for copying.
  var share = document.getElementById("share-url");
  if (share) share.addEventListener("focus", function () { share.select(); });
})();
