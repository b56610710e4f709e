"""A BPMN diagram as inline SVG, drawn on the server from the BPMN-DI of the deployed definition.

No JavaScript viewer and no build step: the page carries the picture itself. Shapes, lanes, labels and edges
come from the DI bounds and waypoints; the look comes from CSS classes (style.css), never inline styles, so the
Content-Security-Policy stays strict. A case page passes the elements walked so far and the waiting ones:
each shape's group gets the class ``done`` or ``current`` (and ``data-element-id``), so it can be styled,
tested and read out (each group has a <title>).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from lxml import etree

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
SVG = "http://www.w3.org/2000/svg"
MARGIN = 20
CHAR_WIDTH = 6.2  # average width of a character at the label's 11px, for wrapping
LINE_HEIGHT = 13

TASKS = {"task", "userTask", "serviceTask", "scriptTask", "manualTask", "sendTask", "receiveTask",
         "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess"}
EVENTS = {"startEvent": "start", "endEvent": "end", "intermediateCatchEvent": "intermediate",
          "intermediateThrowEvent": "intermediate", "boundaryEvent": "boundary"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
EDGES = {"sequenceFlow": "sequence", "messageFlow": "message", "association": "association",
         "dataInputAssociation": "association", "dataOutputAssociation": "association"}


def _local(tag: object) -> str:
    # An element's tag is a str; lxml's stubs type what it gives as everything a tag may be set to.
    return etree.QName(str(tag)).localname


def _number(el, name: str) -> float:
    """A coordinate of BPMN-DI: required by its schema, which every deployed file was checked against."""
    value = el.get(name)
    if value is None:
        raise ValueError(f"BPMN-DI {_local(el.tag)} without its '{name}' attribute")
    return float(value)


def _el(parent, tag: str, **attrs):
    node = etree.SubElement(parent, f"{{{SVG}}}{tag}")
    for key, value in attrs.items():
        if value is not None:
            node.set(key.rstrip("_").replace("_", "-"), str(value))
    return node


def _fmt(n: float) -> str:
    return f"{n:.1f}".rstrip("0").rstrip(".")


def wrap(text: str, width: float) -> list[str]:
    """Greedy word wrap by an average character width (good enough for labels in known boxes)."""
    per_line = max(4, int(width / CHAR_WIDTH))
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if len(candidate) <= per_line or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return [ln for ln in lines if ln] or []


def _text(parent, text: str, x: float, y: float, width: float, height: float | None, cls: str,
          anchor_middle: bool = True, vertical_center: bool = True, max_lines: int = 6) -> None:
    lines = wrap(text, width)[:max_lines]
    if not lines:
        return
    if vertical_center and height is not None:
        top = y + height / 2 - (len(lines) - 1) * LINE_HEIGHT / 2 + 4
    else:
        top = y + 10
    node = _el(parent, "text", class_=cls, x=_fmt(x + width / 2 if anchor_middle else x), y=_fmt(top),
               text_anchor="middle" if anchor_middle else "start")
    for i, line in enumerate(lines):
        span = _el(node, "tspan", x=_fmt(x + width / 2 if anchor_middle else x), dy="0" if i == 0 else str(LINE_HEIGHT))
        span.text = line


class Diagram:
    """What one BPMN file's first diagram shows, parsed once per definition."""

    def __init__(self, bpmn_xml: str | bytes):
        data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        self.root = etree.fromstring(data, parser)
        self.elements = {el.get("id"): el for el in self.root.iter() if isinstance(el.tag, str) and el.get("id")}
        plane = self.root.find(".//bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
        self.shapes = plane.findall("bpmndi:BPMNShape", NS) if plane is not None else []
        self.edges = plane.findall("bpmndi:BPMNEdge", NS) if plane is not None else []

    def flows_between(self, pairs) -> set[str]:
        """The ids of the sequence flows that join each (source id, target id) pair."""
        wanted = {tuple(p) for p in pairs}
        return {el.get("id", "") for el in self.elements.values()  # every one has an id
                if _local(el.tag) == "sequenceFlow" and (el.get("sourceRef"), el.get("targetRef")) in wanted}

    def bounds(self) -> tuple[float, float, float, float]:
        xs, ys = [], []
        for shape in self.shapes:
            for b in shape.iter(f"{{{NS['dc']}}}Bounds"):
                x, y, w, h = (_number(b, k) for k in ("x", "y", "width", "height"))
                xs += [x, x + w]
                ys += [y, y + h]
        for edge in self.edges:
            for p in edge.findall("di:waypoint", NS):
                xs.append(_number(p, "x"))
                ys.append(_number(p, "y"))
        if not xs:
            return 0, 0, 100, 100
        return min(xs), min(ys), max(xs), max(ys)

    def render(self, *, current: Iterable[str] = (), done: Iterable[str] = (), taken_flows: Iterable[str] = (),
               label: Callable[[str, str], str] | None = None, title: str = "") -> str:
        current, done, taken = set(current), set(done), set(taken_flows)
        label = label or (lambda _id, name: name)
        x0, y0, x1, y1 = self.bounds()
        width, height = x1 - x0 + 2 * MARGIN, y1 - y0 + 2 * MARGIN
        svg = etree.Element(f"{{{SVG}}}svg", nsmap={None: SVG})
        svg.set("class", "bpmn")
        svg.set("viewBox", f"{_fmt(x0 - MARGIN)} {_fmt(y0 - MARGIN)} {_fmt(width)} {_fmt(height)}")
        svg.set("width", _fmt(width))
        svg.set("height", _fmt(height))
        svg.set("role", "img")
        if title:
            svg.set("aria-label", title)
            _el(svg, "title").text = title
        back, middle, front = _el(svg, "g", class_="layer-pools"), _el(svg, "g", class_="layer-edges"), \
            _el(svg, "g", class_="layer-shapes")
        for shape in self.shapes:
            element = self.elements.get(shape.get("bpmnElement"))
            if element is None:
                continue
            kind = _local(element.tag)
            state = "current" if element.get("id") in current else "done" if element.get("id") in done else None
            target = back if kind in ("participant", "lane") else front
            self._shape(target, shape, element, kind, state, label)
        for edge in self.edges:
            element = self.elements.get(edge.get("bpmnElement"))
            if element is None:
                continue
            self._edge(middle, edge, element, element.get("id") in taken, label)
        return etree.tostring(svg, encoding="unicode")

    def _shape(self, parent, shape, element, kind: str, state: str | None, label) -> None:
        b = shape.find("dc:Bounds", NS)
        if b is None:
            return
        x, y, w, h = (_number(b, k) for k in ("x", "y", "width", "height"))
        element_id = element.get("id")
        name = label(element_id, element.get("name") or "")
        classes = [kind.lower()]
        if state:
            classes.append(state)
        group = _el(parent, "g", class_=" ".join(classes), data_element_id=element_id)
        if name:
            _el(group, "title").text = name
        if kind in ("participant", "lane"):
            _el(group, "rect", class_="pool" if kind == "participant" else "lane", x=_fmt(x), y=_fmt(y),
                width=_fmt(w), height=_fmt(h))
            # The pool's or lane's name, written upwards along its left edge as BPMN tools do.
            band = 30 if kind == "participant" else 24
            cx, cy = x + band / 2, y + h / 2
            text = _el(group, "text", class_="pool-label" if kind == "participant" else "lane-label",
                       x=_fmt(cx), y=_fmt(cy + 4), text_anchor="middle",
                       transform=f"rotate(-90 {_fmt(cx)} {_fmt(cy)})")
            text.text = wrap(name, h - 10)[0] if name and wrap(name, h - 10) else name
            return
        group.set("class", " ".join(["element"] + self._family(kind) + classes))
        if kind in TASKS and shape.get("isExpanded") == "true":
            # An expanded subprocess draws its own steps inside: its name goes along the top edge, where they
            # leave room, and it has no collapsed sign (BPMN 2.0, 13.2.5).
            _el(group, "rect", class_="shape", x=_fmt(x), y=_fmt(y), width=_fmt(w), height=_fmt(h), rx="10", ry="10")
            _text(group, name, x + 8, y + 1, w - 16, None, "label", anchor_middle=False, vertical_center=False,
                  max_lines=1)
        elif kind in TASKS:
            _el(group, "rect", class_="shape", x=_fmt(x), y=_fmt(y), width=_fmt(w), height=_fmt(h), rx="10", ry="10")
            self._task_marker(group, kind, x, y, w, h)
            # Kept clear of the type marker in the top-left corner.
            _text(group, name, x + 6, y + 10, w - 12, h - 10, "label", max_lines=5)
        elif kind in EVENTS:
            r = min(w, h) / 2
            _el(group, "circle", class_="shape", cx=_fmt(x + w / 2), cy=_fmt(y + h / 2), r=_fmt(r))
            if kind in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
                _el(group, "circle", class_="inner", cx=_fmt(x + w / 2), cy=_fmt(y + h / 2), r=_fmt(r - 3))
            self._event_marker(group, element, x + w / 2, y + h / 2, r)
            self._outside_label(group, shape, name, x, y + h + 4, w)
        elif kind in GATEWAYS:
            cx, cy = x + w / 2, y + h / 2
            _el(group, "polygon", class_="shape",
                points=f"{_fmt(cx)},{_fmt(y)} {_fmt(x + w)},{_fmt(cy)} {_fmt(cx)},{_fmt(y + h)} {_fmt(x)},{_fmt(cy)}")
            self._gateway_marker(group, kind, shape, cx, cy, w)
            self._outside_label(group, shape, name, x - 20, y + h + 4, w + 40)
        elif kind in ("dataObjectReference", "dataObject", "dataStoreReference"):
            fold = min(12, w / 3)
            _el(group, "path", class_="shape",
                d=f"M{_fmt(x)},{_fmt(y)} h{_fmt(w - fold)} l{_fmt(fold)},{_fmt(fold)} v{_fmt(h - fold)} "
                  f"h{_fmt(-w)} z")
            self._outside_label(group, shape, name, x - 20, y + h + 4, w + 40)
        elif kind == "textAnnotation":
            text_el = element.find("bpmn:text", NS)
            body = (text_el.text or "") if text_el is not None else ""
            _el(group, "path", class_="shape", d=f"M{_fmt(x + 15)},{_fmt(y)} h-15 v{_fmt(h)} h15")
            _text(group, body, x + 5, y, w - 10, h, "label", anchor_middle=False, vertical_center=False,
                  max_lines=8)
        elif kind == "group":
            _el(group, "rect", class_="shape", x=_fmt(x), y=_fmt(y), width=_fmt(w), height=_fmt(h), rx="8", ry="8")
            self._outside_label(group, shape, name, x, y + 4, w)
        else:
            _el(group, "rect", class_="shape", x=_fmt(x), y=_fmt(y), width=_fmt(w), height=_fmt(h))
            _text(group, name, x, y, w, h, "label")

    @staticmethod
    def _family(kind: str) -> list[str]:
        if kind in TASKS:
            return ["task"]
        if kind in EVENTS:
            return ["event", EVENTS[kind]]
        if kind in GATEWAYS:
            return ["gateway"]
        return []

    def _outside_label(self, group, shape, name: str, x: float, y: float, w: float) -> None:
        if not name:
            return
        lb = shape.find("bpmndi:BPMNLabel/dc:Bounds", NS)
        if lb is not None:
            lx, ly, lw, lh = (_number(lb, k) for k in ("x", "y", "width", "height"))
            _text(group, name, lx, ly, max(lw, 60), lh, "label", vertical_center=False, max_lines=4)
        else:
            _text(group, name, x, y, w, None, "label", vertical_center=False, max_lines=3)

    @staticmethod
    def _task_marker(group, kind: str, x: float, y: float, w: float, h: float) -> None:
        if kind == "userTask":
            # A small figure: head and shoulders.
            _el(group, "circle", class_="marker", cx=_fmt(x + 14), cy=_fmt(y + 12), r="4")
            _el(group, "path", class_="marker", d=f"M{_fmt(x + 6)},{_fmt(y + 24)} q8,-10 16,0")
        elif kind in ("serviceTask", "businessRuleTask"):
            _el(group, "circle", class_="marker", cx=_fmt(x + 14), cy=_fmt(y + 14), r="5")
            _el(group, "circle", class_="marker", cx=_fmt(x + 14), cy=_fmt(y + 14), r="1.5")
        elif kind == "scriptTask":
            _el(group, "path", class_="marker", d=f"M{_fmt(x + 8)},{_fmt(y + 8)} h10 m-10,5 h10 m-10,5 h10")
        elif kind in ("callActivity", "subProcess"):
            # The collapsed-subprocess sign: a small square with a plus at the bottom centre.
            mx, my = x + w / 2 - 7, y + h - 16
            _el(group, "rect", class_="inner", x=_fmt(mx), y=_fmt(my), width="14", height="14")
            _el(group, "path", class_="inner", d=f"M{_fmt(mx + 7)},{_fmt(my + 3)} v8 M{_fmt(mx + 3)},{_fmt(my + 7)} h8")

    def _event_marker(self, group, element, cx: float, cy: float, r: float) -> None:
        definitions = {_local(c.tag) for c in element if isinstance(c.tag, str)}
        if "timerEventDefinition" in definitions:
            _el(group, "circle", class_="inner", cx=_fmt(cx), cy=_fmt(cy), r=_fmt(r * 0.6))
            _el(group, "path", class_="inner", d=f"M{_fmt(cx)},{_fmt(cy)} v{_fmt(-r * 0.45)} M{_fmt(cx)},{_fmt(cy)} "
                                                 f"h{_fmt(r * 0.35)}")
        elif "messageEventDefinition" in definitions:
            s = r * 0.55
            _el(group, "rect", class_="inner", x=_fmt(cx - s), y=_fmt(cy - s * 0.7), width=_fmt(2 * s),
                height=_fmt(1.4 * s))
            _el(group, "path", class_="inner", d=f"M{_fmt(cx - s)},{_fmt(cy - s * 0.7)} L{_fmt(cx)},{_fmt(cy)} "
                                                 f"L{_fmt(cx + s)},{_fmt(cy - s * 0.7)}")
        elif "errorEventDefinition" in definitions or "terminateEventDefinition" in definitions:
            _el(group, "circle", class_="marker", cx=_fmt(cx), cy=_fmt(cy), r=_fmt(r * 0.5))

    @staticmethod
    def _gateway_marker(group, kind: str, shape, cx: float, cy: float, w: float) -> None:
        s = w * 0.2
        if kind == "exclusiveGateway":
            if shape.get("isMarkerVisible") != "false":
                _el(group, "path", class_="marker", d=f"M{_fmt(cx - s)},{_fmt(cy - s)} L{_fmt(cx + s)},{_fmt(cy + s)} "
                                                      f"M{_fmt(cx + s)},{_fmt(cy - s)} L{_fmt(cx - s)},{_fmt(cy + s)}")
        elif kind == "parallelGateway":
            _el(group, "path", class_="marker", d=f"M{_fmt(cx)},{_fmt(cy - s * 1.3)} v{_fmt(2.6 * s)} "
                                                  f"M{_fmt(cx - s * 1.3)},{_fmt(cy)} h{_fmt(2.6 * s)}")
        elif kind == "inclusiveGateway":
            _el(group, "circle", class_="marker", cx=_fmt(cx), cy=_fmt(cy), r=_fmt(s * 1.1))
        elif kind == "eventBasedGateway":
            _el(group, "circle", class_="inner", cx=_fmt(cx), cy=_fmt(cy), r=_fmt(s * 1.2))

    def _edge(self, parent, edge, element, taken: bool, label) -> None:
        kind = EDGES.get(_local(element.tag))
        if kind is None:
            return
        points = [(_number(p, "x"), _number(p, "y")) for p in edge.findall("di:waypoint", NS)]
        if len(points) < 2:
            return
        classes = ["flow", kind] + (["taken"] if taken else [])
        group = _el(parent, "g", class_=" ".join(classes), data_element_id=element.get("id"))
        _el(group, "polyline", class_="edge " + kind + (" taken" if taken else ""),
            points=" ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in points))
        if kind != "association":
            (ax, ay), (bx, by) = points[-2], points[-1]
            angle = math.atan2(by - ay, bx - ax)
            size, spread = 10, 0.4
            left = (bx - size * math.cos(angle - spread), by - size * math.sin(angle - spread))
            right = (bx - size * math.cos(angle + spread), by - size * math.sin(angle + spread))
            _el(group, "polygon", class_="arrowhead",
                points=f"{_fmt(bx)},{_fmt(by)} {_fmt(left[0])},{_fmt(left[1])} {_fmt(right[0])},{_fmt(right[1])}")
        name = label(element.get("id"), element.get("name") or "")
        if name:
            lb = edge.find("bpmndi:BPMNLabel/dc:Bounds", NS)
            if lb is not None:
                lx, ly, lw, lh = (_number(lb, k) for k in ("x", "y", "width", "height"))
            else:
                (ax, ay), (bx, by) = points[0], points[1]
                lx, ly, lw, lh = (ax + bx) / 2 + 4, (ay + by) / 2 - 14, 80, 14
            _text(group, name, lx, ly, max(lw, 40), lh, "edge-label", anchor_middle=False, vertical_center=False,
                  max_lines=3)
