// Small progressive helpers; every page works without them.
(function () {
  "use strict";
  // Buttons with data-confirm ask before their form is sent (e.g. deactivating a user).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // Buttons with data-print print the page (a one-time questionnaire link handed to a client on paper).
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  // Filter selects with data-autosubmit send their form when changed.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
// A copy button (data-copy="<input id>") copies its box's text and says so in the status line beside it.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) { return; }
    var box = document.getElementById(button.getAttribute("data-copy"));
    if (!box) { return; }
    var status = button.closest(".field") && button.closest(".field").querySelector("[data-copy-status]");
    function done() { if (status) { status.textContent = button.getAttribute("data-copied") || ""; } }
    box.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(box.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");  // plain http on a local network: the older way still works there
      done();
    }
  });
})();
