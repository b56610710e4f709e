"""A form file plus values and errors, turned into what the templates draw: sections, fields, widgets, rows.

The form format is docs/forms.md. Every field gets a flat HTML name built from its path
(``household_members-0-work_incomes-1-amount``); web/form_parse.py turns the posted names back into the nested
data. Nothing here knows Flask: labels are picked by ``locale``, errors arrive already worded (web/form_errors.py).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from engine.forms import texts
from engine.forms.forms import (
    CLIENT_INCOME_BLOCKS,
    MEMBER_INCOME_BLOCKS,
    condition_holds,
    per_capita_income,
    total_income,
)

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# A new row's index is a placeholder until form.js clones it: one per nesting depth. Each kind of row has one
# template in the page (not one per household member), its ancestors' indices placeholders too; form.js fills
# them in from the block's data-indices when it clones.
PLACEHOLDER = "__i{}__"


@dataclass
class Option:
    code: str
    label: str
    unknown: bool = False  # a posted value that is not one of the options: shown so the input is kept


@dataclass
class Item:
    """One row of a repeatable block (a household member, an income row, a meeting)."""

    index: int | str
    number: str            # 1-based for people; empty in the template
    path: str              # error path, "household_members/0"
    html_id: str
    fields: list[Field] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    name: str = ""         # "2nd income row", nested "2nd household member, 1st work income row": named in errors


@dataclass
class Carried:
    """A row recorded at an earlier step (an x-append-only block): shown, never sent; corrected on its own page."""

    index: int
    item: Item
    step: str
    recorded_by: str
    recorded_at: str
    corrections: list[dict] = field(default_factory=list)  # {"by", "at", "reason", "before": Item}


@dataclass
class Field:
    name: str
    path: str              # "household_members/0/name", the engine's error path
    html_name: str         # "household_members-0-name"
    html_id: str
    label: str
    widget: str            # text textarea phone date integer number select radios checkboxes yesno repeat computed
    help: str = ""
    seed: int | str | None = None
    value: object = ""     # str for inputs, list[str] for checkboxes, "true"/"false"/"" for yes/no
    options: list[Option] = field(default_factory=list)
    required: bool = False
    conditional: bool = False
    visible: bool = True
    visible_when: str = ""  # JSON for data-visible-when, the sibling named by its HTML name
    expected_count: str = ""  # JSON for data-expected-count (x-expected-count), the sibling by its HTML name
    expected_label: str = ""  # the label of the field that gives the expected number of rows
    decision: str = ""      # the step of a decision diamond (x-seed-step)
    exclusive: str = ""
    computed: str = ""
    amount: bool = False    # an income amount summed into field 39
    household_size: bool = False
    maxlength: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    errors: list[str] = field(default_factory=list)
    row_name: str = ""      # the repeated row the field sits in (Item.name), so its errors say which row
    prefill: bool = False   # the value came from the task (x-prefill-from), not from the user
    shown_as: dict = field(default_factory=dict)  # a computed choice's code → its label in the user's language
    options_html: str = ""  # a select's options, drawn in Python (see options_html)
    # repeatable blocks
    items: list[Item] = field(default_factory=list)
    template_key: str = ""  # "household_members.work_incomes": the row template this block clones
    indices: str = ""       # the indices of the rows around this block, "0" for the first member's incomes
    item_label: str = ""
    min_items: int = 0
    max_items: int | None = None
    depth: int = 0
    carried: list[Carried] = field(default_factory=list)  # rows recorded at earlier steps, shown read-only
    next_index: int = 0     # the index form.js gives the next new row

    @property
    def describedby(self) -> str:
        ids = ([f"h-{self.html_name}"] if self.help else []) + ([f"e-{self.html_name}"] if self.errors else [])
        return " ".join(ids)


@dataclass
class Section:
    id: str
    label: str
    help: str
    fields: list[Field]


@dataclass
class FormModel:
    title: str
    sections: list[Section]
    errors: list[str]               # errors that belong to no field (the form as a whole)
    templates: list[tuple[str, Field, Item]]  # (key, block, blank row) for every kind of repeatable row
    summary: list[tuple[str, str, str]]  # (html id, label, message) of every error, for the list on top
    read_only: bool
    locale: str
    has_computed: bool


def text(pair, locale: str) -> str:
    """A {"hu", "en"} text in the user's language (Hungarian when the other is missing)."""
    if isinstance(pair, dict):
        return pair.get(locale) or pair.get("hu") or pair.get("en") or ""
    return pair or ""


def ordinal(n: int, locale: str) -> str:
    """A row's number as words put it: "2." in Hungarian, "2nd" in English."""
    if locale == "hu":
        return f"{n}."
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def row_name(number: int, item_label: str, locale: str) -> str:
    """"2nd income row" / "2. jövedelem sor": the label lower-cased unless it starts with an abbreviation."""
    label = item_label
    if label[:2] and not label[:2].isupper():
        label = label[0].lower() + label[1:]
    return f"{ordinal(number, locale)} {label}"


def display_date(value, locale: str) -> str:
    """Stored dates are ISO; Hungarian shows them as YYYY.MM.DD. Anything else (a typed mistake) is kept as is."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    m = _ISO_DATE.match(value)
    if m and locale == "hu":
        return f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
    return value


def _widget(prop: dict) -> str:
    kind = prop.get("type")
    if prop.get("x-computed") or prop.get("readOnly"):
        return "computed"
    if kind == "array":
        items = prop.get("items") or {}
        return "repeat" if items.get("type") == "object" else "checkboxes"
    if kind == "boolean":
        return "yesno"
    if "enum" in prop:
        # A decision with several answers (3.3's next step) is a question with every answer in view.
        return "radios" if prop.get("x-seed-step") else "select"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if prop.get("format") == "date":
        return "date"
    if prop.get("x-widget") in ("textarea", "phone"):
        return prop["x-widget"]
    return "text"


def _display_value(widget: str, value, locale: str):
    if widget == "checkboxes":
        if value is None or value == "":
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if widget == "yesno":
        if value is True:
            return "true"
        if value is False:
            return "false"
        return "" if value is None else str(value)
    if widget == "date":
        return display_date(value, locale)
    if value is None:
        return ""
    if texts.is_text(value):
        return texts.in_language(value, locale)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _options(prop: dict, value, locale: str) -> list[Option]:
    labels = prop.get("x-options") or (prop.get("items") or {}).get("x-options") or {}
    codes = prop.get("enum") or (prop.get("items") or {}).get("enum") or []
    out = [Option(str(c), text(labels.get(c), locale) or str(c)) for c in codes]
    chosen = value if isinstance(value, list) else [value]
    for v in chosen:
        if v not in (None, "") and str(v) not in {str(c) for c in codes}:
            out.append(Option(str(v), str(v), unknown=True))
    return out


# A select's <option> list, drawn once per form field and language: the pension list alone has 26 entries and
# appears in every household member. Keyed by the schema node (kept alive here, so its id stays its own).
_OPTION_HTML: dict[tuple[int, str], tuple[dict, str]] = {}


def options_html(prop: dict, f: Field, locale: str) -> Markup:
    key = (id(prop), locale)
    hit = _OPTION_HTML.get(key)
    if hit is None or hit[0] is not prop:
        if len(_OPTION_HTML) > 2000:
            _OPTION_HTML.clear()
        html = "".join(f'<option value="{escape(o.code)}">{escape(o.label)}</option>'
                       for o in f.options if not o.unknown)
        hit = _OPTION_HTML[key] = (prop, html)
    html = hit[1]
    chosen = f.value if isinstance(f.value, str) else ""
    if chosen:
        mark = f'<option value="{escape(chosen)}">'
        if mark in html:
            html = html.replace(mark, f'<option value="{escape(chosen)}" selected>', 1)
        else:  # a posted value that is not an option: kept, so the user sees what was refused
            html += f'<option value="{escape(chosen)}" selected>{escape(chosen)}</option>'
    return Markup(html)


class _Builder:
    def __init__(self, locale: str, errors: dict[str, list[str]], read_only: bool = False,
                 carried: dict[str, list[dict]] | None = None):
        self.carried = carried or {}
        self.locale = locale
        self.read_only = read_only
        self.errors = errors
        self.placed: set[str] = set()
        self.templates: dict[str, tuple[Field, Item | None]] = {}  # None while that row kind is being built

    def _take(self, path: str) -> list[str]:
        found = self.errors.get(path, [])
        if found:
            self.placed.add(path)
        return list(found)

    def obj(self, schema: dict, values: dict, path: list, depth: int, names: list[str] | None = None,
            row: str = "") -> list[Field]:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        values = values if isinstance(values, dict) else {}
        out = []
        for name in names if names is not None else list(props):
            if name in props:
                out.append(self.field(name, props[name], values, path, depth, name in required, row))
                expected = props[name].get("x-expected-count")
                if expected:  # the sibling whose number of rows the block should have (its label for the warning)
                    out[-1].expected_label = text((props.get(expected["field"]) or {}).get("x-label"), self.locale)
        return out

    def field(self, name: str, prop: dict, siblings: dict, path: list, depth: int, required: bool,
              row: str = "") -> Field:
        here = path + [name]
        html_name = "-".join(str(p) for p in here)
        widget = _widget(prop)
        value = siblings.get(name)
        f = Field(name=name, path="/".join(str(p) for p in here), html_name=html_name, html_id="f-" + html_name,
                  label=text(prop.get("x-label"), self.locale) or prop.get("title") or name, widget=widget,
                  help=text(prop.get("x-help"), self.locale),
 seed=prop.get("x-seed-field", prop.get("x-seed-step", prop.get("x-seed-activity"))),
                  value=_display_value(widget, value, self.locale), required=required, depth=depth,
                  decision=str(prop.get("x-seed-step") or ""), exclusive=prop.get("x-exclusive-option") or "",
                  computed=prop.get("x-computed") or "", maxlength=prop.get("maxLength"),
                  minimum=prop.get("minimum"), maximum=prop.get("maximum"))
        f.errors = self._take(f.path)
        f.row_name = row
        if widget == "computed" and prop.get("x-options"):
            # A computed or server-set choice (a band, a phase, a score from a report) is shown by its label.
            f.shown_as = {str(code): text(label, self.locale) for code, label in prop["x-options"].items()}
        cond = prop.get("x-visible-when")
        if cond:
            sibling = "-".join(str(p) for p in path + [cond["field"]])
            f.conditional = True
            f.visible = condition_holds(cond, siblings)
            f.visible_when = json.dumps({**cond, "field": sibling}, ensure_ascii=False)
        expected = prop.get("x-expected-count")
        if expected:
            f.expected_count = json.dumps({**expected, "field": "-".join(str(p) for p in path + [expected["field"]])})
        if widget in ("select", "radios", "checkboxes"):
            f.options = _options(prop, value, self.locale)
            if widget == "select":
                f.options_html = options_html(prop, f, self.locale)
        if name == "amount" and len(path) >= 2 and (
                (len(path) == 2 and path[0] in CLIENT_INCOME_BLOCKS)
                or (len(path) == 4 and path[0] == "household_members" and path[2] in MEMBER_INCOME_BLOCKS)):
            f.amount = True
        f.household_size = not path and name == "household_size"
        if widget == "repeat":
            self.repeat(f, prop, value, here, depth, row)
        return f

    def repeat(self, f: Field, prop: dict, rows, here: list, depth: int, row: str = "") -> None:
        items_schema = prop.get("items") or {}
        f.item_label = text(items_schema.get("x-label"), self.locale) or f.label
        f.min_items, f.max_items = prop.get("minItems", 0), prop.get("maxItems")
        rows = rows if isinstance(rows, list) else []
        # An append-only block's rows recorded at earlier steps lead the list; they are shown, not inputs, and
        # the new rows keep their place in the whole list (so the engine's error paths find them).
        entries = self.carried.get(f.path, []) if len(here) == 1 and not self.read_only else []
        first = len(entries)
        f.carried = [self._carried(items_schema, e, here, depth) for e in entries]
        rows = rows[first:]
        # An empty block that needs a row gets a blank one to type into; blank rows are dropped on submit.
        needs = f.min_items if not entries else prop.get("x-min-new-rows", 0)
        shown = rows if rows or not needs or self.read_only else [{}]
        f.items = [self.item(items_schema, r, here, first + i, depth, row, f.item_label) for i, r in enumerate(shown)]
        f.next_index = first + len(shown)
        f.template_key = ".".join(str(p) for p in here[0::2])
        f.indices = ",".join(str(p) for p in here[1::2])
        f.value = ""
        if f.template_key not in self.templates:
            self.templates[f.template_key] = (f, None)  # taken before building: a row never holds its own kind
            generic = [p if i % 2 == 0 else PLACEHOLDER.format(i // 2) for i, p in enumerate(here)]
            self.templates[f.template_key] = (f, self.item(items_schema, {}, generic, PLACEHOLDER.format(depth),
                                                           depth))

    def _carried(self, schema: dict, entry: dict, here: list, depth: int) -> Carried:
        index = entry["index"]
        saved, self.errors = self.errors, {}  # a carried row is not sent, so no error is its own
        try:
            item = self.item(schema, entry.get("row") or {}, here, index, depth)
            corrections = [{"by": c.get("by") or "", "at": c.get("at") or "", "reason": c.get("reason") or "",
                            "before": self.item(schema, c.get("before") or {}, here, index, depth)}
                           for c in entry.get("corrections") or []]
        finally:
            self.errors = saved
        return Carried(index=index, item=item, step=str(entry.get("step") or ""),
                       recorded_by=entry.get("recorded_by") or "", recorded_at=entry.get("recorded_at") or "",
                       corrections=corrections)

    def item(self, schema: dict, row, here: list, index, depth: int, outer: str = "", label: str = "") -> Item:
        path = here + [index]
        is_template = isinstance(index, str)
        item = Item(index=index, number="" if is_template else str(index + 1),
                    path="/".join(str(p) for p in path), html_id="r-" + "-".join(str(p) for p in path))
        if not is_template:
            if label:
                own = row_name(index + 1, label, self.locale)
                item.name = f"{outer}, {own}" if outer else own
            item.errors = self._take(item.path)
            item.fields = self.obj(schema, row, path, depth + 1, row=item.name)
        else:
            # The template's errors are nobody's: build it with no errors to place.
            saved, self.errors = self.errors, {}
            item.fields = self.obj(schema, {}, path, depth + 1)
            self.errors = saved
        return item


def build(schema: dict, values: dict | None, errors: dict[str, list[str]] | None = None, *, locale: str = "hu",
          read_only: bool = False, carried: dict[str, list[dict]] | None = None) -> FormModel:
    """The render model of one form. ``errors`` maps engine paths ("a/0/b", "(form)") to worded messages;
    ``carried``: the engine's rows recorded at earlier steps, per append-only block (``values`` holds them first)."""
    values = values or {}
    errors = errors or {}
    b = _Builder(locale, errors, read_only, carried)
    props = schema.get("properties") or {}
    sections_spec = schema.get("x-sections") or [{"id": "form", "label": schema.get("x-label"), "fields": list(props)}]
    listed = {n for s in sections_spec for n in s.get("fields", [])}
    sections = []
    for spec in sections_spec:
        section = Section(id=str(spec.get("id")), label=text(spec.get("label"), locale),
                          help=text(spec.get("help"), locale),
                          fields=b.obj(schema, values, [], 0, spec.get("fields", [])))
        for f in section.fields:
            if f.help and f.help == section.help:  # a decision's section often repeats its question's help
                f.help = ""
        sections.append(section)
    if set(props) - listed:  # a form file that forgot a field still shows it
        sections.append(Section(id="more", label="", help="",
                                fields=b.obj(schema, values, [], 0, [n for n in props if n not in listed])))
    _fill_computed(sections, values, locale)
    model = FormModel(title=text(schema.get("x-label"), locale) or schema.get("title", ""), sections=sections,
                      errors=[], summary=[], read_only=read_only, locale=locale,
                      templates=[(key, f, item) for key, (f, item) in b.templates.items() if item is not None],
                      has_computed=any(f.computed for s in sections for f in s.fields))
    by_path = {}
    for f in walk(model):
        by_path[f.path] = f
    for path, messages in errors.items():
        if path in b.placed:
            continue
        target = _nearest(path, by_path)
        if target is None:
            model.errors.extend(messages)
        else:
            target.errors.extend(m for m in messages if m not in target.errors)
    for f in walk(model):
        label = f"{f.row_name}: {f.label}" if f.row_name else f.label
        model.summary.extend((f.html_id, label, m) for m in f.errors)
    return model


def _nearest(path: str, by_path: dict) -> Field | None:
    """The field an error belongs to: its own, else the closest enclosing one (a multi-select's option)."""
    parts = path.split("/")
    while parts:
        hit = by_path.get("/".join(parts))
        if hit is not None:
            return hit
        parts.pop()
    return None


def walk(model: FormModel):
    """Every field of the model, rows included (not the templates)."""
    stack = [f for s in reversed(model.sections) for f in reversed(s.fields)]
    while stack:
        f = stack.pop()
        yield f
        for item in reversed(f.items):
            stack.extend(reversed(item.fields))


def _fill_computed(sections: list[Section], values: dict, locale: str) -> None:
    """Fields 39 and 40 as the engine computes them; a typed mistake in an amount leaves them open ("—")."""
    for s in sections:
        for f in s.fields:
            if f.computed in ("total_income", "per_capita_income"):
                try:
                    result = total_income(values) if f.computed == "total_income" else per_capita_income(values)
                except (TypeError, ValueError, AttributeError):
                    result = None
                f.value = "" if result is None else result
            elif f.computed and values.get(f.name) is not None:
                # A computed date reads as the user writes dates (YYYY.MM.DD in Hungarian).
                f.value = display_date(values[f.name], locale)
            if f.shown_as and values.get(f.name) is not None:
                f.value = f.shown_as.get(str(values[f.name]), str(values[f.name]))
