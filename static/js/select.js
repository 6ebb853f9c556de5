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
  update();
})();
