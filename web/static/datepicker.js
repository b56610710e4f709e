// A small calendar beside every date text box (input[data-date]): the box keeps accepting typed dates, and the
// calendar is only an aid. Written here rather than <input type="date">, whose format follows the browser's
// locale; this one writes the app's format (YYYY.MM.DD in Hungarian, YYYY-MM-DD in English, docs/forms.md).
// Keyboard: arrows move a day or a week, Page Up/Down a month, Home/End the week's ends, Enter picks,
// Escape closes and returns to the button. The words come from the page (data-date-words, translated there).
(function () {
  "use strict";
  var lang = document.documentElement.lang === "en" ? "en" : "hu";
  var sep = lang === "en" ? "-" : ".";
  var open = null;  // {input, button, box, shown: Date (first of month), active: Date}

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function format(d) { return d.getFullYear() + sep + pad(d.getMonth() + 1) + sep + pad(d.getDate()); }
  function parse(text) {
    var m = /^\s*(\d{4})[.\-/ ]\s*(\d{1,2})[.\-/ ]\s*(\d{1,2})\.?\s*$/.exec(text || "");
    if (!m) { return null; }
    var d = new Date(+m[1], +m[2] - 1, +m[3]);
    return d.getMonth() === +m[2] - 1 ? d : null;
  }
  function sameDay(a, b) { return a && b && a.toDateString() === b.toDateString(); }
  function addDays(d, n) { return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n); }
  function addMonths(d, n) {
    var last = new Date(d.getFullYear(), d.getMonth() + n + 1, 0).getDate();
    return new Date(d.getFullYear(), d.getMonth() + n, Math.min(d.getDate(), last));
  }
  function words(input) {
    try { return JSON.parse(input.getAttribute("data-date-words") || "{}"); } catch (e) { return {}; }
  }
  function labelOf(input) {
    var label = input.id && document.querySelector("label[for='" + input.id + "']");
    return label ? label.textContent.replace(/\s+/g, " ").trim() : "";
  }

  var monthTitle = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "hu-HU", { year: "numeric", month: "long" });
  var dayName = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "hu-HU", { weekday: "short" });
  var fullDay = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "hu-HU",
                                        { year: "numeric", month: "long", day: "numeric", weekday: "long" });

  function enhance(input) {
    if (input.hasAttribute("data-date-enhanced") || input.closest("template")) { return; }
    input.setAttribute("data-date-enhanced", "");
    var w = words(input);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "date-button small";
    button.setAttribute("data-date-button", "");
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    // A drawn calendar icon: an emoji needs a font the workstation may not have.
    button.innerHTML = '<svg aria-hidden="true" focusable="false" width="18" height="18" viewBox="0 0 24 24" ' +
      'fill="none" stroke="currentColor" stroke-width="2"><rect x="3" y="5" width="18" height="16" rx="2"/>' +
      '<path d="M3 10h18M8 3v4M16 3v4"/></svg><span class="sr-only"></span>';
    button.querySelector(".sr-only").textContent = (w.pick || "Calendar") + ": " + labelOf(input);
    button.title = w.pick || "";
    button.disabled = input.disabled;
    // The box and its button side by side, the calendar opening under them.
    var holder = document.createElement("span");
    holder.className = "date-box";
    input.insertAdjacentElement("beforebegin", holder);
    holder.appendChild(input);
    holder.appendChild(button);
  }

  function draw() {
    var o = open, w = words(o.input), box = o.box;
    box.innerHTML = "";
    var head = document.createElement("div");
    head.className = "date-picker-head";
    var prev = document.createElement("button");
    prev.type = "button"; prev.className = "small"; prev.setAttribute("data-date-prev", "");
    prev.textContent = "‹"; prev.setAttribute("aria-label", w.prev || "Previous month");
    var next = document.createElement("button");
    next.type = "button"; next.className = "small"; next.setAttribute("data-date-next", "");
    next.textContent = "›"; next.setAttribute("aria-label", w.next || "Next month");
    var title = document.createElement("h2");
    title.className = "date-picker-title"; title.id = "date-picker-title"; title.setAttribute("aria-live", "polite");
    title.textContent = monthTitle.format(o.shown);
    head.appendChild(prev); head.appendChild(title); head.appendChild(next);
    box.appendChild(head);
    var table = document.createElement("table");
    table.setAttribute("role", "grid");
    table.setAttribute("aria-labelledby", "date-picker-title");
    var thead = table.createTHead().insertRow();
    var monday = new Date(2024, 0, 1);  // a Monday: the week starts on Monday in both languages
    for (var i = 0; i < 7; i++) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = dayName.format(addDays(monday, i));
      thead.appendChild(th);
    }
    var body = table.createTBody();
    var first = new Date(o.shown.getFullYear(), o.shown.getMonth(), 1);
    var start = addDays(first, -((first.getDay() + 6) % 7));
    var chosen = parse(o.input.value), today = new Date();
    for (var week = 0; week < 6; week++) {
      if (week > 0 && addDays(start, week * 7).getMonth() !== o.shown.getMonth()) { break; }
      var tr = body.insertRow();
      for (var d = 0; d < 7; d++) {
        var day = addDays(start, week * 7 + d);
        var td = tr.insertCell();
        if (day.getMonth() !== o.shown.getMonth()) { continue; }
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = String(day.getDate());
        b.setAttribute("data-day", format(day));
        b.setAttribute("aria-label", fullDay.format(day));
        b.tabIndex = sameDay(day, o.active) ? 0 : -1;
        if (sameDay(day, chosen)) { b.setAttribute("aria-pressed", "true"); }
        if (sameDay(day, today)) { b.className = "today"; b.setAttribute("aria-current", "date"); }
        td.appendChild(b);
      }
    }
    box.appendChild(table);
    var close = document.createElement("button");
    close.type = "button"; close.className = "small date-picker-close"; close.setAttribute("data-date-close", "");
    close.textContent = w.close || "Close";
    box.appendChild(close);
  }

  function focusActive() {
    var b = open && open.box.querySelector("[data-day='" + format(open.active) + "']");
    if (b) { b.focus(); }
  }

  function show(input, button) {
    hide(false);
    var active = parse(input.value) || new Date();
    var box = document.createElement("div");
    box.className = "date-picker";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", (words(input).pick || "") + ": " + labelOf(input));
    box.setAttribute("data-date-picker", "");
    open = { input: input, button: button, box: box, active: active,
             shown: new Date(active.getFullYear(), active.getMonth(), 1) };
    button.setAttribute("aria-expanded", "true");
    button.insertAdjacentElement("afterend", box);
    draw();
    focusActive();
  }

  function hide(refocus) {
    if (!open) { return; }
    var o = open;
    open = null;
    o.box.remove();
    o.button.setAttribute("aria-expanded", "false");
    if (refocus) { o.button.focus(); }
  }

  function move(to) {
    open.active = to;
    if (to.getMonth() !== open.shown.getMonth() || to.getFullYear() !== open.shown.getFullYear()) {
      open.shown = new Date(to.getFullYear(), to.getMonth(), 1);
      draw();
    } else {
      open.box.querySelectorAll("[data-day]").forEach(function (b) {
        b.tabIndex = b.getAttribute("data-day") === format(to) ? 0 : -1;
      });
    }
    focusActive();
  }

  function pick(text) {
    var input = open.input;
    input.value = text;
    // The form's own handlers (conditions, the leave warning) see the change as if typed.
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
    hide(false);
    input.focus();
  }

  document.addEventListener("click", function (event) {
    var t = event.target.closest ? event.target.closest("button") : null;
    if (t && t.hasAttribute("data-date-button")) {
      var input = t.previousElementSibling;
      if (open && open.button === t) { hide(true); } else if (input) { show(input, t); }
      return;
    }
    if (!open) { return; }
    if (!open.box.contains(event.target)) { hide(false); return; }
    if (!t) { return; }
    if (t.hasAttribute("data-day")) { pick(t.getAttribute("data-day")); }
    else if (t.hasAttribute("data-date-prev")) { open.active = addMonths(open.active, -1); open.shown = addMonths(open.shown, -1); draw(); }
    else if (t.hasAttribute("data-date-next")) { open.active = addMonths(open.active, 1); open.shown = addMonths(open.shown, 1); draw(); }
    else if (t.hasAttribute("data-date-close")) { hide(true); }
  });

  document.addEventListener("keydown", function (event) {
    if (!open || !open.box.contains(event.target)) { return; }
    var a = open.active, to = null;
    switch (event.key) {
      case "Escape": event.preventDefault(); hide(true); return;
      case "ArrowLeft": to = addDays(a, -1); break;
      case "ArrowRight": to = addDays(a, 1); break;
      case "ArrowUp": to = addDays(a, -7); break;
      case "ArrowDown": to = addDays(a, 7); break;
      case "PageUp": to = addMonths(a, event.shiftKey ? -12 : -1); break;
      case "PageDown": to = addMonths(a, event.shiftKey ? 12 : 1); break;
      case "Home": to = addDays(a, -((a.getDay() + 6) % 7)); break;
      case "End": to = addDays(a, 6 - ((a.getDay() + 6) % 7)); break;
      default: return;
    }
    if (event.target.hasAttribute("data-day")) { event.preventDefault(); move(to); }
  });

  function enhanceAll(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("input[data-date]").forEach(enhance);
  }
  enhanceAll(document);
  // Rows added in the page (form.js) bring their own date boxes.
  new MutationObserver(function (changes) {
    changes.forEach(function (c) {
      c.addedNodes.forEach(function (n) { if (n.nodeType === 1) { enhanceAll(n); } });
    });
  }).observe(document.body, { childList: true, subtree: true });
  // A date box disabled with its hidden part (form.js) disables its button too.
  new MutationObserver(function (changes) {
    changes.forEach(function (c) {
      var b = c.target.nextElementSibling;
      if (b && b.hasAttribute("data-date-button")) { b.disabled = c.target.disabled; }
    });
  }).observe(document.body, { attributes: true, attributeFilter: ["disabled"], subtree: true });
})();
