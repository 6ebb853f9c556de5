// Gallery page: select several photos to download (a ZIP) or delete at once.
(function () {
  "use strict";
  var form = document.getElementById("bulk-form");
  if (!form) return;
  var count = document.getElementById("bulk-count");
  var download = document.getElementById("download-selected");
  var remove = document.getElementById("delete-selected");
  var hint = count.textContent;
  function selected() { return document.querySelectorAll("input.select-photo:checked").length; }
  function update() {
    var n = selected();
    count.textContent = n ? n + " selected" : hint;
    download.disabled = remove.disabled = n === 0;
  }
  document.addEventListener("change", function (e) {
    if (e.target.classList && e.target.classList.contains("select-photo")) update();
  });
  remove.addEventListener("click", function (e) {
    var n = selected();
    if (!window.confirm("Delete " + n + " photo" + (n === 1 ? "" : "s") + " for good?")) e.preventDefault();
  });
  // Cards the upload script adds get their box too, and the bar shows up
  // once the gallery has a photo.
  var grid = document.getElementById("photo-grid");
  function equip() {
    grid.querySelectorAll("li.photo-card[data-photo-id]").forEach(function (card) {
      if (card.querySelector("input.select-photo")) return;
      var box = document.createElement("input");
      box.type = "checkbox";
      box.className = "select-photo";
      box.name = "photo";
      box.value = card.dataset.photoId;
      box.setAttribute("form", "bulk-form");
      var name = card.querySelector(".photo-name");
      box.setAttribute("aria-label", "Select " + (name ? name.textContent : "this photo"));
      card.appendChild(box);
    });
    if (grid.querySelector("li.photo-card")) form.hidden = false;
  }
  if (grid) new MutationObserver(equip).observe(grid, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-photo-id"] });
  update();
})();
