// The pages' behaviour, in one static file so the Content-Security-Policy can refuse
// every inline script and style attribute (governance/settings.py).
(function () {
  "use strict";

  // Suggest a short name (slug) from a name field until the slug is edited by hand.
  document.querySelectorAll("[data-slug-source]").forEach(function (source) {
    var target = document.getElementById(source.dataset.slugSource);
    if (!target) { return; }
    var edited = target.value !== "";
    target.addEventListener("input", function () { edited = true; });
    source.addEventListener("input", function () {
      if (edited) { return; }
      target.value = source.value.normalize("NFKD").toLowerCase()
        .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 50).replace(/-+$/, "");
    });
  });

  // <form data-confirm="Revoke it?">: ask first. Capture phase, so a refused submit
  // never reaches htmx or the browser.
  document.addEventListener("submit", function (event) {
    var message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // <button data-copy="element-id">: copy that field's value to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var field = document.getElementById(button.dataset.copy);
    if (field && navigator.clipboard) {
      navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    }
  });

  // <input data-select-on-focus>: a one-time secret is selected whole for copying.
  document.addEventListener("focusin", function (event) {
    if (event.target.dataset && "selectOnFocus" in event.target.dataset) {
      event.target.select();
    }
  });

  // <div class="progress-bar" data-width="40">: a width from the server without a
  // style attribute (CSSOM writes are allowed by the policy). Again after htmx swaps.
  function widths(root) {
    var bars = root.querySelectorAll ? root.querySelectorAll("[data-width]") : [];
    Array.prototype.forEach.call(bars, function (bar) {
      bar.style.width = bar.dataset.width + "%";
    });
    if (root.dataset && root.dataset.width) { root.style.width = root.dataset.width + "%"; }
  }
  widths(document);
  document.addEventListener("htmx:load", function (event) { widths(event.detail.elt); });
})();
