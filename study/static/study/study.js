// The real-or-fake study (/study/) and the live result on it and on /model/.
// The server keeps which image is real; this script only times the display and sends the
// choice. States of #trial (data-state): loading, ready, showing, choosing, sending, score,
// done, error.
(function () {
  "use strict";

  var BAR_LEFT = 10, BAR_WIDTH = 300, BAR_MAX = 1; // as views.bar_x
  var LIVE_REFRESH_MS = 20000;

  function pct(x) { return Math.round(x * 100) + "%"; }
  function barX(rate) { return BAR_LEFT + BAR_WIDTH * Math.min(Math.max(rate, 0), BAR_MAX) / BAR_MAX; }

  // ---- the live result ------------------------------------------------------------------
  var live = document.getElementById("study-live");

  function showLive(result) {
    var mine = result.versions.filter(function (r) { return r.deployed; })[0];
    if (!mine || !mine.answers) return;
    var field = function (name) { return live.querySelector('[data-field="' + name + '"]'); };
    field("figure").hidden = false;
    field("rate").textContent = pct(mine.fooling_rate);
    field("detail").textContent = mine.fooled + " of " + mine.answers + " answers; 95% interval " +
      pct(mine.ci95[0]) + " to " + pct(mine.ci95[1]);
    field("model").textContent = mine.model;
    var line = field("rate-line"), x = barX(mine.fooling_rate).toFixed(1);
    line.setAttribute("x1", x);
    line.setAttribute("x2", x);
    line.removeAttribute("visibility");
    var rect = field("ci-rect"), lo = barX(mine.ci95[0]), hi = barX(mine.ci95[1]);
    rect.setAttribute("x", lo.toFixed(1));
    rect.setAttribute("width", (hi - lo).toFixed(1));
  }

  function refreshLive() {
    if (!live) return;
    fetch(live.dataset.resultsUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (result) { if (result) showLive(result); })
      .catch(function () { /* the figure already shown stays */ });
  }

  if (live) window.setInterval(refreshLive, LIVE_REFRESH_MS);

  // ---- the trials ---------------------------------------------------------------------------
  var trial = document.getElementById("trial");
  if (!trial) return;

  var status = document.getElementById("trial-status");
  var progress = document.getElementById("trial-progress");
  var ready = document.getElementById("ready");
  var frames = Array.prototype.slice.call(trial.querySelectorAll(".frame"));
  var csrf = trial.querySelector("input[name=csrfmiddlewaretoken]").value;
  var displayMs = parseInt(trial.dataset.displayMs, 10);
  var roundSize = parseInt(trial.dataset.round, 10);
  var current = null;        // {pair, images: [HTMLImageElement, HTMLImageElement]}
  var answered = 0, right = 0, scored = 0;  // scored: answers whose round is over
  var readyAction = null;

  function setState(state, message) {
    trial.dataset.state = state;
    if (message !== undefined) status.textContent = message;
  }

  function clearFrames() {
    frames.forEach(function (frame) {
      var img = frame.querySelector("img");
      if (img) frame.removeChild(img);
      frame.disabled = true;
      frame.classList.remove("picked");
    });
  }

  function retryLater(response, then) {
    var wait = parseInt(response.headers.get("Retry-After") || "5", 10);
    setState("error", "Too many requests from your address: trying again in " + wait + " s.");
    window.setTimeout(then, wait * 1000);
  }

  function loadImage(url) {
    // Decoded before Ready is offered, so the display time is spent looking, not loading.
    var img = new Image();
    img.alt = "";
    img.src = url;
    return img.decode().then(function () { return img; });
  }

  function loadPair() {
    clearFrames();
    ready.disabled = true;
    setState("loading", answered ? "Loading the next pair…" : "Loading the first pair…");
    fetch(trial.dataset.nextUrl, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 429) return retryLater(r, loadPair);
      if (!r.ok) throw new Error("next " + r.status);
      return r.json().then(function (data) {
        if (data.pair === null) return finish(data.round);
        return Promise.all(data.images.map(loadImage)).then(function (images) {
          current = { pair: data.pair, images: images };
          frames.forEach(function (frame, i) {
            frame.style.aspectRatio = images[i].naturalWidth + " / " + images[i].naturalHeight;
          });
          offerReady("Press Ready when you are looking at the screen: the two photos show for " +
                     (displayMs / 1000) + " s.", show);
        });
      });
    }).catch(function () {
      setState("error", "The next pair could not be loaded. Reload the page to try again.");
    });
  }

  function offerReady(message, action, label) {
    readyAction = action;
    ready.textContent = label || "Ready";
    ready.disabled = false;
    setState(action === show ? "ready" : "score", message);
    ready.focus();
  }

  function show() {
    ready.disabled = true;
    setState("showing", "Look closely…");
    current.images.forEach(function (img, i) { frames[i].appendChild(img); });
    // Time from the first frame painted with the photos, not from the click.
    window.requestAnimationFrame(function () {
      window.setTimeout(hide, displayMs);
    });
  }

  function hide() {
    current.images.forEach(function (img) { if (img.parentNode) img.parentNode.removeChild(img); });
    frames.forEach(function (frame) { frame.disabled = false; });
    setState("choosing", "Which one was the real photo? Click it (or press ← or →).");
    frames[0].focus();
  }

  function choose(choice) {
    if (trial.dataset.state !== "choosing") return;
    frames.forEach(function (frame) { frame.disabled = true; });
    frames[choice].classList.add("picked");
    setState("sending", "Saving your answer…");
    fetch(trial.dataset.answerUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ pair: current.pair, choice: choice })
    }).then(function (r) {
      if (r.status === 429) return retryLater(r, function () { setState("choosing"); choose(choice); });
      if (r.status === 409) return { recorded: false };  // answered in another tab: not counted twice
      if (!r.ok) throw new Error("answer " + r.status);
      return r.json();
    }).then(function (data) {
      if (!data) return;
      // The server says whether an answer was right only for a whole round, as its score.
      if (data.recorded) answered += 1;
      progress.textContent = answered + (answered === 1 ? " pair" : " pairs") + " answered";
      if (data.round) {
        addScore(data.round);
        refreshLive();  // the round's answers have just joined the figure
        offerReady("You picked the real photo in " + data.round.right + " of these " + data.round.answered +
                   " pairs (" + right + " of " + scored + " in all). Our model fooled you in " +
                   (data.round.answered - data.round.right) + ".", loadPair, "Next " + roundSize + " pairs");
      } else {
        loadPair();
      }
    }).catch(function () {
      setState("error", "Your answer could not be saved. Reload the page to try again.");
    });
  }

  function addScore(round) {
    right += round.right;
    scored += round.answered;
  }

  function finish(round) {
    if (round) {
      addScore(round);
      refreshLive();
    }
    setState("done", scored ? "That was every pair we have: thank you! You picked the real photo in " +
             right + " of " + scored + "." : "You have answered every pair we have: thank you!");
    ready.disabled = true;
  }

  ready.addEventListener("click", function () { if (readyAction) readyAction(); });
  frames.forEach(function (frame) {
    frame.addEventListener("click", function () { choose(parseInt(frame.dataset.choice, 10)); });
  });
  document.addEventListener("keydown", function (event) {
    if (trial.dataset.state !== "choosing") return;
    if (event.key === "ArrowLeft") { event.preventDefault(); choose(0); }
    if (event.key === "ArrowRight") { event.preventDefault(); choose(1); }
  });

  loadPair();
}());
