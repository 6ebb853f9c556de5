// Copy buttons: <button data-copy="#field-id"> copies that field's value and
// says so for two seconds. A separate file, so the site needs no inline script.
(function () {
  "use strict";
  function copied(button, text) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    var value = field.value || field.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(function () { copied(button, "Copied"); },
        function () { field.select(); copied(button, "Press Ctrl+C"); });
    } else {
      // Plain HTTP (a local run): the Clipboard API is off, the old way still works.
      field.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      copied(button, ok ? "Copied" : "Press Ctrl+C");
    }
  });
})();
