// Small behaviours that need no build step. Loaded from this server only (the pages send a strict CSP).
(function () {
  "use strict";

  // <form data-confirm="Question?">: ask before submitting (deletes, disconnects, removals).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  // <button data-copy="#element-id">: copy that element's text and say so.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.querySelector(button.dataset.copy);
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  });

  function selectText(el) {
    if (el.select) { el.select(); return; }
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // "All events" checkbox: ticks/unticks every event checkbox of its form.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement)) return;
    var form = box.form;
    if (!form) return;
    var events = form.querySelectorAll("input[name=events]:not([data-operational])");
    var all = form.querySelector("input[data-all-events]");
    if (!all) return;
    if (box === all) {
      events.forEach(function (e) { e.checked = all.checked; });
    } else if (box.name === "events" && !box.hasAttribute("data-operational")) {
      all.checked = Array.prototype.every.call(events, function (e) { return e.checked; });
    }
  });
})();
