// Sendoka dashboard behaviour, loaded as a file (the Content-Security-Policy allows no inline
// script): copy buttons, confirmation steps, and the template editor's live preview.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (!b) return;
    e.preventDefault();
    var text = b.getAttribute("data-copy");
    var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var t = document.createElement("textarea");
      t.value = text; document.body.appendChild(t); t.select();
      try { document.execCommand("copy"); done(); } catch (err) { /* nothing to do */ }
      document.body.removeChild(t);
    }
  });
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var msg = f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
  // The live preview: the editor form is posted into the sandboxed frame (its response
  // carries its own CSP), a moment after the last keystroke.
  function refresh(form) {
    var btn = form.querySelector("[data-preview-button]");
    if (btn) btn.click();
  }
  document.querySelectorAll("form[data-live-preview]").forEach(function (form) {
    var timer = null;
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { refresh(form); }, 400);
    });
    refresh(form);
  });
})();
