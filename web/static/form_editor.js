// The studio's form editor (docs/studio.md, "The form editor"): a form file (JSON Schema with Segito's x- keywords,
// docs/forms.md) edited as sections and fields, with the JSON beside it; every change is drawn again by the
// server's own form renderer (the preview endpoint), and "Save draft" stores it as a new draft version, checked
// as a deploy is. Keys the editor does not manage (x-seed-field, x-help, …) are kept as they are.
// Every word comes from the page (data-texts); no inline script or style (the CSP allows 'self' only).
(function () {
  "use strict";
  var root = document.querySelector("[data-form-editor]");
  if (!root) { return; }
  var T = JSON.parse(root.getAttribute("data-texts") || "{}");
  function t(key) { return T[key] || key; }
  var KINDS = ["text", "long_text", "number", "date", "yes_no", "pick_one", "multi_select", "repeatable"];
  var KIND_LABELS = { text: "Text", long_text: "Long text", number: "Number", date: "Date", yes_no: "Yes/no",
    pick_one: "Pick one", multi_select: "Pick several", repeatable: "Repeatable block" };
  var TYPED_KEYS = ["type", "format", "enum", "items", "uniqueItems", "x-options", "x-widget", "maxLength",
    "minimum", "properties", "required", "additionalProperties", "minItems"];
  var state = null;
  var raw = root.querySelector("[data-role=json]");
  var tree = root.querySelector("[data-role=tree]");
  var preview = root.querySelector("[data-role=preview]");
  var problems = root.querySelector("[data-role=problems]");
  var status = root.querySelector("[data-role=status]");
  var timer = null;

  function kindOf(prop) {
    if (prop.type === "boolean") { return "yes_no"; }
    if (prop.type === "integer" || prop.type === "number") { return "number"; }
    if (prop.type === "array") {
      return prop.items && prop.items.type === "object" ? "repeatable" : "multi_select";
    }
    if (prop.enum) { return "pick_one"; }
    if (prop.format === "date") { return "date"; }
    return prop["x-widget"] === "textarea" ? "long_text" : "text";
  }

  function setKind(prop, kind) {
    var options = prop["x-options"] || {};
    var codes = prop.enum || (prop.items && prop.items.enum) || Object.keys(options);
    TYPED_KEYS.forEach(function (k) { delete prop[k]; });
    if (kind === "text") { prop.type = "string"; prop.maxLength = 200; }
    if (kind === "long_text") { prop.type = "string"; prop.maxLength = 10000; prop["x-widget"] = "textarea"; }
    if (kind === "number") { prop.type = "integer"; prop.minimum = 0; }
    if (kind === "date") { prop.type = "string"; prop.format = "date"; }
    if (kind === "yes_no") { prop.type = "boolean"; }
    if (kind === "pick_one" || kind === "multi_select") {
      if (!codes.length) { codes = ["a", "b"]; }
      var labels = {};
      codes.forEach(function (c) { labels[c] = options[c] || { hu: c, en: c }; });
      if (kind === "pick_one") { prop.type = "string"; prop.enum = codes; }
      else { prop.type = "array"; prop.items = { type: "string", enum: codes }; prop.uniqueItems = true; }
      prop["x-options"] = labels;
    }
    if (kind === "repeatable") {
      prop.type = "array";
      prop.items = { type: "object", properties: {}, required: [], additionalProperties: false };
    }
  }

  function optionsText(prop) {
    var labels = prop["x-options"] || {};
    var codes = prop.enum || (prop.items && prop.items.enum) || [];
    return codes.map(function (c) {
      var l = labels[c] || {};
      return [c, l.hu || "", l.en || ""].join(" | ");
    }).join("\n");
  }

  function setOptions(prop, textValue) {
    var codes = [], labels = {};
    textValue.split("\n").forEach(function (line) {
      var parts = line.split("|").map(function (p) { return p.trim(); });
      if (!parts[0]) { return; }
      codes.push(parts[0]);
      labels[parts[0]] = { hu: parts[1] || parts[0], en: parts[2] || parts[1] || parts[0] };
    });
    if (prop.type === "array") { prop.items.enum = codes; } else { prop.enum = codes; }
    prop["x-options"] = labels;
  }

  function parseValue(v) {
    if (v === "true") { return true; }
    if (v === "false") { return false; }
    if (/^-?\d+$/.test(v)) { return Number(v); }
    return v;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  var uid = 0;
  function labelled(labelText, input) {
    uid += 1;
    input.id = "fe-" + uid;
    return el("div", { "class": "fe-entry" }, [el("label", { "for": input.id, text: labelText }), input]);
  }

  function input(value, onInput, attrs) {
    var node = el("input", Object.assign({ type: "text" }, attrs || {}));
    node.value = value == null ? "" : value;
    node.addEventListener("input", function () { onInput(node.value); changed(false); });
    return node;
  }

  function select(options, value, onChange, attrs) {
    var node = el("select", attrs || {});
    options.forEach(function (o) {
      var option = el("option", { value: o[0], text: o[1] });
      if (o[0] === value) { option.selected = true; }
      node.appendChild(option);
    });
    node.addEventListener("change", function () { onChange(node.value); changed(true); });
    return node;
  }

  function button(textValue, onClick, attrs) {
    var node = el("button", Object.assign({ type: "button", "class": "secondary" }, attrs || {}),
      [document.createTextNode(textValue)]);
    node.addEventListener("click", function () { onClick(); changed(true); });
    return node;
  }

  function renameIn(list, from, to) {
    var i = (list || []).indexOf(from);
    if (i >= 0) { list[i] = to; }
  }

  // One field of `obj` (the form or a repeatable block's items): `order` is the list it is shown in.
  function fieldEditor(obj, name, order, sections) {
    var prop = obj.properties[name];
    var kind = kindOf(prop);
    var box = el("fieldset", { "class": "fe-field", "data-field": name });
    box.appendChild(el("legend", { text: (prop["x-label"] && prop["x-label"].hu) || name }));
    box.appendChild(labelled(t("Field key"), input(name, function (v) {
      if (!/^[a-z][a-z0-9_]*$/.test(v) || obj.properties[v]) { return; }
      var rebuilt = {};
      Object.keys(obj.properties).forEach(function (k) { rebuilt[k === name ? v : k] = obj.properties[k]; });
      obj.properties = rebuilt;
      renameIn(obj.required, name, v);
      renameIn(order, name, v);
      (sections || []).forEach(function (s) { renameIn(s.fields, name, v); });
      name = v;
      box.setAttribute("data-field", v);
    }, { "data-role": "key", pattern: "[a-z][a-z0-9_]*" })));
    var label = prop["x-label"] = prop["x-label"] || { hu: "", en: "" };
    box.appendChild(labelled(t("Label (Hungarian)"), input(label.hu, function (v) { label.hu = v; prop.title = v; },
      { "data-role": "label-hu" })));
    box.appendChild(labelled(t("Label (English)"), input(label.en, function (v) { label.en = v; },
      { "data-role": "label-en" })));
    box.appendChild(labelled(t("Type"), select(KINDS.map(function (k) { return [k, t(KIND_LABELS[k])]; }), kind,
      function (v) { setKind(prop, v); }, { "data-role": "kind" })));
    var required = el("input", { type: "checkbox", "data-role": "required" });
    required.checked = (obj.required || []).indexOf(name) >= 0;
    required.addEventListener("change", function () {
      obj.required = (obj.required || []).filter(function (n) { return n !== name; });
      if (required.checked) { obj.required.push(name); }
      changed(false);
    });
    box.appendChild(labelled(t("Required"), required));
    if (kind === "pick_one" || kind === "multi_select") {
      var area = el("textarea", { rows: "4", "data-role": "options" });
      area.value = optionsText(prop);
      area.addEventListener("input", function () { setOptions(prop, area.value); changed(false); });
      box.appendChild(labelled(t("Options: one a line, code | Hungarian | English"), area));
    }
    var when = prop["x-visible-when"] || {};
    var siblings = Object.keys(obj.properties).filter(function (n) { return n !== name; });
    box.appendChild(labelled(t("Shown only when this field…"), select([["", t("(always shown)")]].concat(
      siblings.map(function (n) { return [n, n]; })), when.field || "", function (v) {
      if (!v) { delete prop["x-visible-when"]; } else {
        prop["x-visible-when"] = { field: v, equals: when.equals === undefined ? true : when.equals };
      }
    }, { "data-role": "when-field" })));
    if (when.field) {
      box.appendChild(labelled(t("…has this value"), input(String(when.equals === undefined ? "" : when.equals),
        function (v) { prop["x-visible-when"] = { field: when.field, equals: parseValue(v) }; },
        { "data-role": "when-equals" })));
    }
    if (kind === "repeatable") {
      var items = prop.items;
      items.properties = items.properties || {};
      var nested = el("div", { "class": "fe-nested" }, [el("p", { "class": "muted", text: t("Fields of each row") })]);
      var nestedOrder = Object.keys(items.properties);
      nestedOrder.forEach(function (n) { nested.appendChild(fieldEditor(items, n, nestedOrder, null)); });
      nested.appendChild(button(t("Add a field"), function () { addField(items, nestedOrder); }));
      box.appendChild(nested);
    }
    var tools = el("div", { "class": "fe-tools" }, [
      button(t("Up"), function () { move(order, name, -1); }),
      button(t("Down"), function () { move(order, name, 1); }),
      button(t("Remove the field"), function () {
        delete obj.properties[name];
        obj.required = (obj.required || []).filter(function (n) { return n !== name; });
        [order].concat((sections || []).map(function (s) { return s.fields; })).forEach(function (list) {
          var i = list.indexOf(name);
          if (i >= 0) { list.splice(i, 1); }
        });
      }, { "data-role": "remove" })]);
    box.appendChild(tools);
    return box;
  }

  function move(list, name, by) {
    var i = list.indexOf(name), j = i + by;
    if (i < 0 || j < 0 || j >= list.length) { return; }
    list[i] = list[j];
    list[j] = name;
  }

  function freeKey(obj) {
    var n = 1;
    while (obj.properties["field_" + n]) { n += 1; }
    return "field_" + n;
  }

  function addField(obj, order) {
    var key = freeKey(obj);
    obj.properties[key] = { "x-label": { hu: t("New field"), en: "New field" }, title: t("New field") };
    setKind(obj.properties[key], "text");
    order.push(key);
    return key;
  }

  function sectionsOf(schema) {
    if (!schema["x-sections"]) {
      schema["x-sections"] = [{ id: "form", label: schema["x-label"] || { hu: "", en: "" },
        fields: Object.keys(schema.properties || {}) }];
    }
    return schema["x-sections"];
  }

  function render() {
    tree.replaceChildren();
    var schema = state;
    schema.properties = schema.properties || {};
    var formLabel = schema["x-label"] = schema["x-label"] || { hu: "", en: "" };
    tree.appendChild(labelled(t("Title (Hungarian)"), input(formLabel.hu, function (v) {
      formLabel.hu = v; schema.title = v;
    }, { "data-role": "title-hu" })));
    tree.appendChild(labelled(t("Title (English)"), input(formLabel.en, function (v) { formLabel.en = v; },
      { "data-role": "title-en" })));
    var sections = sectionsOf(schema);
    sections.forEach(function (section, index) {
      var box = el("section", { "class": "fe-section card", "data-section": section.id });
      var slabel = section.label = section.label || { hu: "", en: "" };
      box.appendChild(el("h3", { text: t("Group") + " " + (index + 1) + ": " + (slabel.hu || section.id) }));
      box.appendChild(labelled(t("Group title (Hungarian)"), input(slabel.hu, function (v) { slabel.hu = v; })));
      box.appendChild(labelled(t("Group title (English)"), input(slabel.en, function (v) { slabel.en = v; })));
      section.fields = section.fields || [];
      section.fields.forEach(function (name) {
        if (schema.properties[name]) { box.appendChild(fieldEditor(schema, name, section.fields, sections)); }
      });
      box.appendChild(button(t("Add a field"), function () { addField(schema, section.fields); },
        { "data-role": "add-field" }));
      tree.appendChild(box);
    });
    tree.appendChild(button(t("Add a group"), function () {
      var n = sections.length + 1;
      while (sections.some(function (s) { return s.id === "group_" + n; })) { n += 1; }
      sections.push({ id: "group_" + n, label: { hu: t("New group"), en: "New group" }, fields: [] });
    }));
  }

  function changed(structure) {
    raw.value = JSON.stringify(state, null, 2) + "\n";
    if (structure) { render(); }
    schedulePreview();
  }

  function showProblems(list) {
    problems.replaceChildren();
    list.forEach(function (p) {
      var where = [p.file, p.line ? t("line") + " " + p.line : ""].filter(Boolean).join(", ");
      problems.appendChild(el("li", { text: (where ? where + ": " : "") + p.message }));
    });
    problems.hidden = list.length === 0;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.getAttribute("data-csrf") },
      body: JSON.stringify(body)
    });
  }

  function schedulePreview() {
    clearTimeout(timer);
    root.setAttribute("data-preview", "pending");
    timer = setTimeout(function () {
      post(root.getAttribute("data-preview-url"), { content: raw.value }).then(function (response) {
        if (response.ok) {
          return response.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            preview.replaceChildren.apply(preview, Array.prototype.slice.call(doc.body.childNodes));
            showProblems([]);
            root.setAttribute("data-preview", "done");
          });
        }
        return response.json().then(function (body) {
          showProblems(body.details || [{ message: body.message }]);
          root.setAttribute("data-preview", "refused");
        });
      });
    }, 300);
  }

  raw.addEventListener("change", function () {
    try {
      state = JSON.parse(raw.value);
      render();
      schedulePreview();
    } catch (e) {
      showProblems([{ message: t("The JSON cannot be read:") + " " + e.message }]);
    }
  });

  root.querySelector("form[data-role=save]").addEventListener("submit", function (event) {
    event.preventDefault();
    root.setAttribute("data-save", "pending");
    status.textContent = t("Saving and checking…");
    post(root.getAttribute("data-save-url"), {
      file: root.getAttribute("data-file"), content: raw.value,
      note: root.querySelector("[name=note]").value
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) {
          showProblems([]);
          root.setAttribute("data-saved", String(body.version));
          root.setAttribute("data-save", "saved");
          status.textContent = (body.created ? t("Saved as draft version {v}: checked, no problems.")
            : t("Nothing changed since version {v}.")).replace("{v}", body.version);
        } else {
          showProblems(body.details || [{ message: body.message }]);
          root.setAttribute("data-save", "refused");
          status.textContent = t("Not saved: the draft has problems (listed below).");
        }
      });
    });
  });

  fetch(root.getAttribute("data-src"), { credentials: "same-origin" }).then(function (r) { return r.text(); })
    .then(function (textValue) {
      raw.value = textValue;
      state = JSON.parse(textValue);
      render();
      schedulePreview();
      root.setAttribute("data-ready", "true");
    });
}());
