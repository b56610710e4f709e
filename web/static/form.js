// The task form, enhanced. Without this file every part of the form is shown and the server does all the work;
// with it: conditional parts appear and disappear as the seed says (hidden parts are disabled, so they are not
// sent), rows are added and removed in the page, fields 39/40 follow the amounts as they are typed (mirroring
// engine/forms.py total_income and per_capita_income; the server recomputes them on submit), and dates are
// tidied to YYYY.MM.DD in Hungarian.
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
  form.querySelectorAll("[data-repeat]").forEach(renumber);
  refresh();
  form.setAttribute("data-enhanced", "true");
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
