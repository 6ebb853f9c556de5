// Photo page: overlay the model's uncertainty on the photo. The map is
// fetched the first time someone asks for it, not with every page view.
(function () {
  "use strict";
  var toggle = document.getElementById("show-uncertainty");
  var overlay = document.getElementById("uncertainty-overlay");
  if (!toggle || !overlay) return;
  toggle.addEventListener("change", function () {
    if (toggle.checked && !overlay.getAttribute("src")) overlay.src = overlay.dataset.src;
    overlay.hidden = !toggle.checked;
  });
})();
