// Photo page, "Fix a color": tap a spot, pick its colour from the model's suggestions or any
// colour, move or remove the markers, Apply. Through the REST API with the browser's session:
// GET .../suggestions/?x=&y= and PUT .../hints/, then the photo is polled until re-coloured.
(function () {
  "use strict";
  var start = document.getElementById("fix-color");
  var compare = document.getElementById("compare");
  var layer = document.getElementById("hint-layer");
  var csrfInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (!start || !compare || !layer || !csrfInput) return;

  var $ = function (id) { return document.getElementById(id); };
  var tools = $("fix-tools"), startBox = $("fix-start"), picker = $("hint-picker"), swatches = $("swatches");
  var colorInput = $("hint-color"), count = $("hint-count"), state = $("hints-state");
  var applyButton = $("hints-apply"), resetButton = $("hints-reset");
  var after = $("after-image"), toggle = $("show-uncertainty"), overlay = $("uncertainty-overlay");
  var maxHints = Number(start.dataset.maxHints);
  var stored = JSON.parse($("stored-hints").textContent);
  var draft = [], selected = -1, busy = false, overlayWasOn = false;
  compare.appendChild(picker);  // a popover beside the spot, at any screen width

  var copy = function (hints) { return hints.map(function (h) { return { x: h.x, y: h.y, color: h.color }; }); };
  var same = function (a, b) { return JSON.stringify(a) === JSON.stringify(b); };
  var round = function (v) { return Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000; };
  var say = function (text, spinning) {
    state.textContent = "";
    if (spinning) {
      var s = document.createElement("span");
      s.className = "spinner"; s.setAttribute("aria-hidden", "true");
      state.appendChild(s); state.appendChild(document.createTextNode(" "));
    }
    state.appendChild(document.createTextNode(text));
  };
  var plural = function (n) { return n + " color hint" + (n === 1 ? "" : "s"); };
  var api = function (url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ Accept: "application/json", "X-CSRFToken": csrfInput.value },
                                    options.body ? { "Content-Type": "application/json" } : {});
    return fetch(url, options).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (d) {
        if (r.ok) return d;
        var msg = d && d.detail ? d.detail : "HTTP " + r.status;
        if (d && d.hints) msg = JSON.stringify(d.hints);
        return Promise.reject(msg);
      });
    });
  };

  // -- markers ------------------------------------------------------------------
  var describe = function (h, i) {
    return "Hint " + (i + 1) + ": " + h.color + " at " + Math.round(h.x * 100) + "% across, " +
      Math.round(h.y * 100) + "% down. Enter to change its color, arrow keys to move it.";
  };
  var drawMarkers = function () {
    layer.textContent = "";
    draft.forEach(function (h, i) {
      var m = document.createElement("button");
      m.type = "button";
      m.className = "hint-marker" + (i === selected ? " selected" : "");
      m.style.left = (h.x * 100) + "%"; m.style.top = (h.y * 100) + "%";
      m.style.background = h.color;
      m.dataset.index = i;
      m.setAttribute("aria-label", describe(h, i));
      layer.appendChild(m);
    });
    count.textContent = draft.length ? plural(draft.length) + " on this photo (at most " + maxHints + ")." :
      "No hints yet: tap a spot on the photo.";
    var changed = !same(draft, stored);
    applyButton.disabled = busy || !changed;
    resetButton.disabled = busy || draft.length === 0;
  };

  var placePicker = function () {
    if (selected < 0) { picker.hidden = true; return; }
    picker.hidden = false;
    var w = compare.clientWidth, h = compare.clientHeight, pw = picker.offsetWidth, ph = picker.offsetHeight;
    var x = draft[selected].x * w, y = draft[selected].y * h, gap = 22;
    picker.style.left = Math.max(0, Math.min(w - pw, x - pw / 2)) + "px";
    // Below the spot if it fits on the photo, else above; never over the marker itself.
    picker.style.top = (y + gap + ph <= h || y - gap - ph < 0 ? y + gap : y - gap - ph) + "px";
  };

  var showSuggestions = function (i) {
    var h = draft[i];
    swatches.textContent = "";
    swatches.setAttribute("aria-busy", "true");
    return api(start.dataset.suggestionsUrl + "?x=" + h.x + "&y=" + h.y).then(function (d) {
      if (draft[i] !== h || selected !== i) return d;  // moved on meanwhile
      swatches.removeAttribute("aria-busy");
      swatches.textContent = "";
      d.colors.forEach(function (c) {
        var b = document.createElement("button");
        b.type = "button"; b.className = "swatch"; b.setAttribute("role", "listitem");
        b.style.setProperty("--swatch", c.color);
        b.setAttribute("aria-label", c.color + ", " + Math.round(c.p * 100) + "% likely");
        b.title = c.color + " (" + Math.round(c.p * 100) + "%)";
        var chip = document.createElement("span"); chip.className = "chip";
        var p = document.createElement("span"); p.className = "p"; p.textContent = Math.round(c.p * 100) + "%";
        b.appendChild(chip); b.appendChild(p);
        b.addEventListener("click", function () { setColor(c.color); });
        swatches.appendChild(b);
      });
      placePicker();
      return d;
    }).catch(function (err) { swatches.removeAttribute("aria-busy"); say("No suggestions here: " + err); });
  };

  var select = function (i) {
    selected = i;
    drawMarkers();
    if (i < 0) { picker.hidden = true; return Promise.resolve(null); }
    colorInput.value = draft[i].color;
    placePicker();
    return showSuggestions(i);
  };

  var setColor = function (color) {
    if (selected < 0) return;
    draft[selected].color = color;
    colorInput.value = color;
    drawMarkers();
    placePicker();
  };

  var pointAt = function (event) {
    var box = layer.getBoundingClientRect();
    return { x: round((event.clientX - box.left) / box.width), y: round((event.clientY - box.top) / box.height) };
  };

  // A tap on the photo adds a hint there, in the model's likeliest colour for that spot.
  layer.addEventListener("pointerdown", function (event) {
    if (event.target !== layer || busy) return;
    if (draft.length >= maxHints) { say("At most " + maxHints + " hints: remove one first."); return; }
    var p = pointAt(event);
    draft.push({ x: p.x, y: p.y, color: "#808080" });
    var i = draft.length - 1, hint = draft[i];
    // The first suggestion is the colour the model found likeliest; a person then picks.
    select(i).then(function (d) {
      if (d && d.colors && draft[i] === hint && hint.color === "#808080") setColor(d.colors[0].color);
    });
  });

  // Markers: drag to move (mouse or touch), tap to choose their colour.
  var drag = null;
  layer.addEventListener("pointerdown", function (event) {
    var m = event.target.closest(".hint-marker");
    if (!m || busy) return;
    event.preventDefault();
    m.setPointerCapture(event.pointerId);
    drag = { index: Number(m.dataset.index), marker: m, x: event.clientX, y: event.clientY, moved: false };
  });
  layer.addEventListener("pointermove", function (event) {
    if (!drag) return;
    if (!drag.moved && Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) < 5) return;
    drag.moved = true;
    var p = pointAt(event), h = draft[drag.index];
    h.x = p.x; h.y = p.y;
    drag.marker.style.left = (p.x * 100) + "%"; drag.marker.style.top = (p.y * 100) + "%";
    if (selected === drag.index) placePicker();
  });
  var endDrag = function () {
    if (!drag) return;
    var d = drag;
    drag = null;
    if (d.moved) { drawMarkers(); if (selected === d.index) showSuggestions(d.index); } else { select(d.index); }
  };
  layer.addEventListener("pointerup", endDrag);
  layer.addEventListener("pointercancel", endDrag);
  layer.addEventListener("keydown", function (event) {
    var m = event.target.closest(".hint-marker");
    if (!m) return;
    var i = Number(m.dataset.index), h = draft[i], step = 0.01;
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      event.preventDefault();
      h.x = round(h.x + moves[event.key][0]); h.y = round(h.y + moves[event.key][1]);
      selected = i; drawMarkers(); layer.querySelector('[data-index="' + i + '"]').focus(); placePicker();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault(); selected = i; removeSelected();
    }
  });

  var removeSelected = function () {
    if (selected < 0) return;
    draft.splice(selected, 1);
    select(-1);
  };
  colorInput.addEventListener("input", function () { setColor(colorInput.value); });
  $("hint-remove").addEventListener("click", removeSelected);
  $("hint-done").addEventListener("click", function () { select(-1); });
  window.addEventListener("resize", placePicker);

  // -- the mode -------------------------------------------------------------------
  var enter = function () {
    draft = copy(stored);
    compare.classList.add("fixing");
    document.body.classList.add("fixing-colors");
    layer.hidden = false; tools.hidden = false; startBox.hidden = true;
    // The uncertainty map is the guide: on while fixing, as the person had it after.
    if (toggle) {
      overlayWasOn = toggle.checked;
      if (!toggle.checked) { toggle.checked = true; toggle.dispatchEvent(new Event("change")); }
    }
    select(-1);
    if (window.matchMedia("(max-width: 52rem)").matches) compare.scrollIntoView({ behavior: "smooth", block: "start" });
  };
  var leave = function () {
    compare.classList.remove("fixing");
    document.body.classList.remove("fixing-colors");
    layer.hidden = true; tools.hidden = true; startBox.hidden = false; picker.hidden = true;
    draft = copy(stored); selected = -1;
    if (toggle && !overlayWasOn && toggle.checked) { toggle.checked = false; toggle.dispatchEvent(new Event("change")); }
  };
  start.addEventListener("click", enter);
  $("fix-close").addEventListener("click", leave);
  resetButton.addEventListener("click", function () {
    draft = [];
    select(-1);
    say(stored.length ? "All hints removed: Apply to go back to the model's own colors." : "");
  });

  // The new colours come with a new distribution: the map must stop pointing at the places the
  // person just decided. Same version as the preview (its ?v=, the photo's render count).
  var refreshOverlay = function (previewUrl) {
    if (!overlay) return;
    var version = previewUrl.split("?v=")[1] || String(Date.now());
    overlay.dataset.src = overlay.dataset.src.split("?")[0] + "?v=" + version;
    if (overlay.getAttribute("src")) overlay.src = overlay.dataset.src;
  };

  var poll = function (n) {
    api(start.dataset.apiUrl).then(function (d) {
      if (d.rendering) { setTimeout(function () { poll(n); }, 500); return; }
      busy = false;
      if (d.render_error) { say(d.render_error); drawMarkers(); return; }
      stored = copy(d.hints);
      after.onload = function () {
        after.onload = null;
        say(stored.length ? "Colored with " + plural(stored.length) + " of yours." : "The model's own colors are back.");
      };
      after.src = d.preview_url;
      refreshOverlay(d.preview_url);
      drawMarkers();
    }).catch(function () { setTimeout(function () { poll(n); }, 1500); });
  };
  applyButton.addEventListener("click", function () {
    if (busy) return;
    busy = true;
    select(-1);
    say(draft.length ? "Re-coloring with " + plural(draft.length) + "…" : "Going back to the model's own colors…", true);
    api(start.dataset.hintsUrl, { method: "PUT", body: JSON.stringify({ hints: draft }) })
      .then(function (d) { stored = copy(d.hints); draft = copy(d.hints); drawMarkers(); setTimeout(function () { poll(0); }, 400); })
      .catch(function (err) { busy = false; drawMarkers(); say("Could not re-color: " + err); });
  });
})();
