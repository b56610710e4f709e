// The task form, enhanced. Without this file every part of the form is shown and the server does all the work;
// with it: conditional parts appear and disappear as the seed says (hidden parts are disabled, so they are not
// sent), rows are added and removed in the page, fields 39/40 follow the amounts as they are typed (mirroring
// engine/forms/forms.py total_income and per_capita_income; the server recomputes them on submit), dates are
// tidied to YYYY.MM.DD in Hungarian, and a block whose number of rows disagrees with the field that gives it
// (x-expected-count) is warned about once before completing; required/aria-required follow the conditions, and
// leaving a changed form without sending it asks first.
(function () {
  "use strict";
  var form = document.querySelector("form[data-task-form]");
  if (!form) { return; }
  var locale = form.getAttribute("data-locale") || document.documentElement.lang || "hu";

  // ---- conditions (x-visible-when) --------------------------------------------------------------------------
  function controls(name) {
    return Array.prototype.filter.call(form.querySelectorAll("[name]"), function (el) {
      return el.name === name && !el.disabled;
    });
  }

  function typed(text) {
    if (text === "true") { return true; }
    if (text === "false") { return false; }
    return text;
  }

  // A sibling's current value the way the server reads it: a list for checkboxes, true/false for yes/no.
  function valueOf(name) {
    var els = controls(name);
    if (!els.length) { return undefined; }
    if (els[0].type === "checkbox") {
      return els.filter(function (el) { return el.checked; }).map(function (el) { return el.value; });
    }
    if (els[0].type === "radio") {
      var on = els.filter(function (el) { return el.checked; })[0];
      return on ? typed(on.value) : undefined;
    }
    return els[0].value === "" ? undefined : els[0].value;
  }

  function holds(cond) {
    var value = valueOf(cond.field);
    if ("equals" in cond) { return value === cond.equals; }
    if ("contains" in cond) { return Array.isArray(value) && value.indexOf(cond.contains) >= 0; }
    if ("contains-any" in cond) {
      return Array.isArray(value) && cond["contains-any"].some(function (c) { return value.indexOf(c) >= 0; });
    }
    if ("in" in cond) { return value !== undefined && !Array.isArray(value) && cond["in"].indexOf(value) >= 0; }
    return true;
  }

  function applyConditions() {
    // A condition can depend on a field inside another conditional part: repeat until nothing changes.
    for (var pass = 0; pass < 4; pass++) {
      var changed = false;
      form.querySelectorAll("[data-visible-when]").forEach(function (el) {
        var cond;
        try { cond = JSON.parse(el.getAttribute("data-visible-when")); } catch (e) { return; }
        var hide = !holds(cond);
        if (el.hidden !== hide) { el.hidden = hide; changed = true; }
      });
      form.querySelectorAll("input, select, textarea").forEach(function (el) {
        if (el.type === "hidden") { return; }
        var off = !!el.closest("[data-visible-when][hidden]");
        if (el.disabled !== off) { el.disabled = off; changed = true; }
        // A conditionally required field is required only while it is shown (docs/forms.md, "Required").
        if (el.hasAttribute("data-required")) {
          el.required = !off;
          if (off) { el.removeAttribute("aria-required"); } else { el.setAttribute("aria-required", "true"); }
        }
      });
      if (!changed) { break; }
    }
  }

  // ---- "none" excludes every other choice (x-exclusive-option) ------------------------------------------------
  function exclusive(box) {
    if (box.type !== "checkbox" || !box.checked) { return; }
    var group = controls(box.name).filter(function (el) { return el !== box; });
    group.forEach(function (el) {
      if (box.hasAttribute("data-exclusive") || el.hasAttribute("data-exclusive")) { el.checked = false; }
    });
  }

  // ---- fields 39 and 40 -------------------------------------------------------------------------------------
  var numberFormat = new Intl.NumberFormat(locale === "en" ? "en-GB" : "hu-HU", { maximumFractionDigits: 2 });

  function integer(text) {
    var compact = String(text || "").replace(/[\s\u00a0\u202f]/g, "");
    return /^[+-]?\d+$/.test(compact) ? parseInt(compact, 10) : null;
  }

  function updateTotals() {
    var outTotal = form.querySelector("[data-computed='total_income']");
    var outCapita = form.querySelector("[data-computed='per_capita_income']");
    if (!outTotal && !outCapita) { return; }
    var total = 0;
    form.querySelectorAll("input[data-amount]").forEach(function (el) {
      var n = el.disabled ? null : integer(el.value);
      if (n !== null) { total += n; }
    });
    var sizeInput = form.querySelector("input[data-household-size]");
    var size = sizeInput ? integer(sizeInput.value) : null;
    if (outTotal) { outTotal.value = numberFormat.format(total); outTotal.textContent = numberFormat.format(total); }
    if (outCapita) {
      var text = size ? numberFormat.format(Math.round(total / size * 100) / 100) : "—";
      outCapita.value = text;
      outCapita.textContent = text;
    }
  }

  // ---- dates ------------------------------------------------------------------------------------------------
  function tidyDate(el) {
    var m = /^\s*(\d{4})[.\-/ ]\s*(\d{1,2})[.\-/ ]\s*(\d{1,2})\.?\s*$/.exec(el.value) ||
            /^\s*(\d{4})(\d{2})(\d{2})\s*$/.exec(el.value);
    if (!m) { return; }
    var pad = function (s) { return s.length === 1 ? "0" + s : s; };
    var sep = locale === "en" ? "-" : ".";
    el.value = m[1] + sep + pad(m[2]) + sep + pad(m[3]);
  }

  // ---- rows -------------------------------------------------------------------------------------------------
  function renumber(block) {
    var rows = block.querySelector("[data-rows]");
    // An append-only block's new rows are numbered after the rows recorded at earlier steps.
    var offset = parseInt(block.getAttribute("data-number-offset") || "0", 10);
    Array.prototype.forEach.call(rows.children, function (row, i) {
      row.querySelectorAll(":scope > legend [data-row-number], :scope > .row-actions [data-row-number]")
        .forEach(function (span) { span.textContent = String(offset + i + 1); });
    });
    var max = parseInt(block.getAttribute("data-max-items") || "0", 10);
    var add = block.querySelector(":scope > .add-row [data-add-row]");
    if (add && max) { add.disabled = offset + rows.children.length >= max; }
  }

  function addRow(block) {
    var key = block.getAttribute("data-template");
    var template = Array.prototype.filter.call(form.querySelectorAll("template[data-template-key]"), function (t) {
      return t.getAttribute("data-template-key") === key;
    })[0];
    if (!template) { return; }
    var depth = parseInt(block.getAttribute("data-depth") || "0", 10);
    var index = parseInt(block.getAttribute("data-next-index") || "0", 10);
    block.setAttribute("data-next-index", String(index + 1));
    // One template per kind of row: the indices of the rows around this block fill its placeholders
    // (the household member an income row belongs to), then the new row's own index.
    var around = (block.getAttribute("data-indices") || "").split(",").filter(function (s) { return s !== ""; });
    var html = template.innerHTML;
    around.forEach(function (value, level) { html = html.split("__i" + level + "__").join(value); });
    html = html.split("__i" + depth + "__").join(String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var row = holder.firstElementChild;
    block.querySelector("[data-rows]").appendChild(row);
    renumber(block);
    refresh();
    var first = row.querySelector("input:not([type=hidden]):not(:disabled), select:not(:disabled), textarea:not(:disabled)");
    if (first) { first.focus(); }
  }

  function removeRow(row) {
    var block = row.parentElement.closest("[data-repeat]");
    row.remove();
    renumber(block);
    refresh();
    var add = block.querySelector(":scope > .add-row [data-add-row]");
    if (add) { add.focus(); }
  }

  function refresh() {
    applyConditions();
    updateTotals();
  }

  // ---- a block whose number of rows another field gives (x-expected-count): a warning, not a refusal ----------
  // Field 7 counts the client, so field 7 − 1 other residents are expected. On a mismatch the first "complete"
  // shows the warning and stops; completing again with the same numbers goes through.
  function filledRows(block) {
    return Array.prototype.filter.call(block.querySelector("[data-rows]").children, function (row) {
      return Array.prototype.some.call(row.querySelectorAll("input, select, textarea"), function (el) {
        if (el.disabled || el.type === "hidden" || el.type === "submit") { return false; }
        if (el.type === "checkbox" || el.type === "radio") { return el.checked; }
        return String(el.value || "").trim() !== "";
      });
    }).length;
  }

  function countWarnings() {
    var found = [];
    form.querySelectorAll("[data-expected-count]").forEach(function (block) {
      if (block.closest("[hidden]")) { return; }
      var rule;
      try { rule = JSON.parse(block.getAttribute("data-expected-count")); } catch (e) { return; }
      var source = controls(rule.field)[0];
      var size = source ? integer(source.value) : null;
      if (size === null) { return; }
      var expected = size + (rule.offset || 0);
      var rows = filledRows(block);
      if (rows === expected) { return; }
      found.push({ block: block, key: rule.field + ":" + size + ":" + rows,
                   text: block.getAttribute("data-count-warning").split("{size}").join(String(size))
                     .split("{expected}").join(String(Math.max(expected, 0))).split("{rows}").join(String(rows)) });
    });
    return found;
  }

  function warnBeforeSubmit(event) {
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("formaction")) { return; }  // a draft or a row: not a completion
    form.querySelectorAll("[data-count-warning-box]").forEach(function (box) { box.remove(); });
    var warnings = countWarnings();
    var key = warnings.map(function (w) { return w.key; }).join("|");
    // Remembered for this page across a refused submission (the page comes back from the server).
    var memo = "segito-count-warned:" + form.getAttribute("action");
    var warned = form.getAttribute("data-count-warned");
    try { warned = warned || window.sessionStorage.getItem(memo); } catch (e) { /* storage off: this page only */ }
    if (!warnings.length || warned === key) { return; }
    event.preventDefault();
    form.setAttribute("data-count-warned", key);
    try { window.sessionStorage.setItem(memo, key); } catch (e) { /* storage off: this page only */ }
    warnings.forEach(function (w, i) {
      var box = document.createElement("div");
      box.className = "alert alert-warning";
      box.setAttribute("role", "alert");
      box.setAttribute("tabindex", "-1");
      box.setAttribute("data-count-warning-box", "");
      box.setAttribute("data-testid", "count-warning");
      box.textContent = w.text;
      w.block.parentNode.insertBefore(box, w.block);
      if (i === 0) { box.focus(); }
    });
  }

  // ---- wiring -----------------------------------------------------------------------------------------------
  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !form.contains(button)) { return; }
    if (button.hasAttribute("data-add-row")) {
      event.preventDefault();
      addRow(button.closest("[data-repeat]"));
    } else if (button.hasAttribute("data-remove-row")) {
      event.preventDefault();
      removeRow(button.closest("[data-row]"));
    }
  });
  form.addEventListener("change", function (event) {
    exclusive(event.target);
    if (event.target.hasAttribute && event.target.hasAttribute("data-date")) { tidyDate(event.target); }
    refresh();
  });
  form.addEventListener("input", function (event) {
    if (event.target.hasAttribute("data-amount") || event.target.hasAttribute("data-household-size")) {
      updateTotals();
    }
  });
  form.addEventListener("submit", warnBeforeSubmit);

  // ---- leaving a changed form ---------------------------------------------------------------------------------
  // Typing, choosing, adding or removing a row makes the form "changed"; leaving the page then asks first (the
  // browser words the question). Submitting — completing, saving a draft, a row button without JavaScript —
  // is not leaving: the server keeps what was sent or gives it back.
  var changed = false;
  function markChanged() { changed = true; }
  form.addEventListener("input", markChanged);
  form.addEventListener("change", markChanged);
  form.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button");
    if (button && (button.hasAttribute("data-add-row") || button.hasAttribute("data-remove-row"))) { markChanged(); }
  });
  form.addEventListener("submit", function (event) {
    // A submission stopped by the row-count warning is still on the page: keep the warning armed.
    if (!event.defaultPrevented) { changed = false; }
  });
  window.addEventListener("beforeunload", function (event) {
    if (!changed) { return; }
    event.preventDefault();
    event.returnValue = "";
    return "";
  });
  form.querySelectorAll("[data-repeat]").forEach(renumber);
  refresh();
  form.setAttribute("data-enhanced", "true");
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
