"""Static checks of gateway conditions: a condition that can never be true, or is always true, where that is
decidable without running anything (Python's ``ast``; nothing is evaluated but literal constants compared).

What is decidable: a form field compared with a literal, when the field is set by the process's forms only (no
script, service task, message or the engine sets it too, so its type and options are what its forms declare);
literal constants compared with each other; comparisons of one field joined by ``and`` that cannot all hold.
Errors refuse the draft, warnings are shown with it; which is which, and why, is in docs/services.md ("Conditions
that can never be true").
"""
from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import static_names
from .why import Why

ERROR = "error"
WARNING = "warning"

# JSON Schema types (docs/forms.md) as the Python types a case's data holds for them.
_PYTHON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
                 "array": (list,), "object": (dict,), "null": (type(None),)}
_TYPE_WORDS = {str: "text", int: "number", float: "number", bool: "yes/no", list: "list", dict: "group",
               type(None): "None"}
_ORDER = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_EQUALITY = {ast.Eq: operator.eq, ast.NotEq: operator.ne}
_FLIP: dict[type, type] = {
    ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
_SYMBOL: dict[type, str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
           ast.NotIn: "not in"}
_MISSING = object()


@dataclass(frozen=True)
class Field:
    """What the forms of a process declare of one top-level field: its Python types (None: any) and its options
    (None: free), and, for a multi-select, the options of its items."""

    name: str
    types: tuple[type, ...] | None
    options: tuple | None
    item_options: tuple | None = None


@dataclass(frozen=True)
class Finding:
    element: str  # "gateway→target", as the deploy check names a condition
    severity: str
    message: str
    code: str = ""
    params: dict = field(default_factory=dict)


def _schema_types(schema: dict) -> tuple[type, ...] | None:
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else None
    if names is None:
        if isinstance(schema.get("enum"), list):
            return tuple({type(v) for v in schema["enum"]})
        return None
    found: list[type] = []
    for name in names:
        if name not in _PYTHON_TYPES:
            return None
        found += _PYTHON_TYPES[name]
    return tuple(found)


def _options(schema: dict) -> tuple | None:
    enum = schema.get("enum")
    if isinstance(enum, list) and all(isinstance(v, (str, int, float, bool, type(None))) for v in enum):
        return tuple(enum)
    return None


def form_fields(specs: Iterable, forms: dict[str, dict], form_property: str, known: Iterable[str]) -> dict[str, Field]:
    """The fields whose values are decided by forms alone: set by some user task's form, and by nothing else."""
    set_otherwise: set[str] = set(known)
    declared: dict[str, list[dict]] = {}
    for s in specs:
        set_otherwise |= set(getattr(s, "data_objects", None) or {})
        for ts in s.task_specs.values():
            set_otherwise |= static_names.defined_by(ts, {}, form_property)
            form = ((getattr(ts, "extensions", None) or {}).get("properties") or {}).get(form_property)
            for name, schema in ((forms.get(form) or {}).get("properties") or {}).items() if form else ():
                declared.setdefault(name, []).append(schema if isinstance(schema, dict) else {})
    fields = {}
    for name, schemas in declared.items():
        if name in set_otherwise:
            continue
        types = [_schema_types(s) for s in schemas]
        options = [_options(s) for s in schemas]
        items = [_options(s.get("items") or {}) if isinstance(s.get("items"), dict) else None for s in schemas]
        fields[name] = Field(
            name,
            None if any(t is None for t in types) else tuple({t for ts in types for t in ts if t}),  # type: ignore
            None if any(o is None for o in options) else tuple(dict.fromkeys(v for o in options for v in o or ())),
            None if any(o is None for o in items) else tuple(dict.fromkeys(v for o in items for v in o or ())))
    return fields


def _literal(node: ast.AST):
    """The value of a literal (a constant, or a tuple, list or set of constants), else _MISSING."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        number = node.operand.value
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            return -number
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        values = tuple(_literal(e) for e in node.elts)
        return _MISSING if any(v is _MISSING for v in values) else values
    return _MISSING


def _fits(value, types: tuple[type, ...]) -> bool:
    """Whether a field of these types can equal the value (Python: True == 1, 1 == 1.0)."""
    if value is None:
        return True  # an unanswered field: not decidable from the form
    kind = type(value)
    numeric = (int, float, bool)
    if kind in numeric:
        return any(t in numeric for t in types)
    return kind in types


def _type_list(types: tuple[type, ...]) -> list[str]:
    return list(dict.fromkeys(_TYPE_WORDS.get(t, t.__name__) for t in types))


def _type_words(types: tuple[type, ...]) -> str:
    return " or ".join(_type_list(types))


def _options_text(options: tuple) -> str:
    shown = ", ".join(repr(v) for v in options[:8])
    return shown + (", …" if len(options) > 8 else "")


class _Condition:
    """Decides one condition: ``truth`` is True, False or None (not decidable); ``problems`` what was found."""

    def __init__(self, tree: ast.AST, fields: dict[str, Field]):
        bound = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.comprehension):
                bound |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
                bound.add(node.target.id)
            elif isinstance(node, ast.Lambda):
                bound |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        self.fields = {k: v for k, v in fields.items() if k not in bound}
        self.errors: list[str] = []
        self.reasons: list[str] = []  # why the whole condition is decided, when it is

    def field(self, node: ast.AST) -> Field | None:
        return self.fields.get(node.id) if isinstance(node, ast.Name) else None

    def truth(self, node: ast.AST) -> bool | None:
        if isinstance(node, ast.Expression):
            return self.truth(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (bool, int, float, str, type(None))):
                self.reasons.append(Why(f"it is the constant {node.value!r}", "constant", value=repr(node.value)))
                return bool(node.value)
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.truth(node.operand)
            return None if inner is None else not inner
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        mark = len(self.reasons)
        for child in ast.iter_child_nodes(node):  # findings inside calls, subscripts, …; their truth is unknown
            if isinstance(child, ast.expr):
                self.truth(child)
        del self.reasons[mark:]
        return None

    def _bool_op(self, node: ast.BoolOp) -> bool | None:
        mark = len(self.reasons)
        values, why = [], []
        for value in node.values:
            values.append(self.truth(value))
            why.append(self.reasons[mark:])
            del self.reasons[mark:]
        deciding = isinstance(node.op, ast.Or)  # True decides an ``or``, False an ``and``
        if deciding in values:
            self.reasons += why[values.index(deciding)]
            return deciding
        if all(v is not None for v in values):
            self.reasons += why[-1]
            return not deciding
        if isinstance(node.op, ast.And):
            contradiction = _contradiction(node.values)
            if contradiction:
                self.reasons.append(contradiction)
                return False
        return None

    def _compare(self, node: ast.Compare) -> bool | None:
        left = node.left
        results: list[bool | None] = []
        for op, right in zip(node.ops, node.comparators):
            results.append(self._pair(left, type(op), right))
            left = right
        if False in results:
            return False
        if all(r is True for r in results):
            return True
        contradiction = _contradiction([node]) if len(node.ops) > 1 else None  # ``3 < x < 3``
        if contradiction:
            self.reasons.append(contradiction)
            return False
        return None

    def _pair(self, left: ast.AST, op: type, right: ast.AST) -> bool | None:
        lvalue, rvalue = _literal(left), _literal(right)
        text = f"{ast.unparse(left)} {_SYMBOL.get(op, '?')} {ast.unparse(right)}"
        if lvalue is not _MISSING and rvalue is not _MISSING:
            decided = _compare_literals(lvalue, op, rvalue)
            if decided is not None:
                self.reasons.append(Why(f"{text} compares two constants and is always {decided}", "constants_compared",
                                         expression=text, result=decided))
            return decided
        if op in (ast.In, ast.NotIn):
            field = self.field(left)
            if field is not None and isinstance(rvalue, tuple):
                outside = [v for v in rvalue if not self._allowed(field, v, field.options)]
                if outside and len(outside) == len(rvalue):
                    self.reasons.append(Why(f"{text}: the field holds none of these values", "holds_none",
                                             expression=text, field=field.name))
                    return op is ast.NotIn
                return None
            field = self.field(right)
            if field is not None and lvalue is not _MISSING and field.item_options is not None \
                    and not self._allowed(field, lvalue, field.item_options, multi=True):
                self.reasons.append(Why(f"{lvalue!r} is not one of the choices of '{field.name}'", "not_a_choice",
                                         value=repr(lvalue), field=field.name))
                return op is ast.NotIn
            return None
        field, value = self.field(left), rvalue
        if field is None:
            field, value, op = self.field(right), lvalue, _FLIP.get(op, op)
        if field is None or value is _MISSING or isinstance(value, tuple) or value is None:
            return None
        if op in _ORDER:
            if field.types and not _orderable(value, field.types):
                self.errors.append(Why(f"{text} orders the {_type_words(field.types)} field '{field.name}' against "
                                       f"{value!r} ({_TYPE_WORDS.get(type(value), 'value')}): Python refuses to "
                                       f"compare them, so the case would stop with an error here", "order_type",
                                       expression=text, field=field.name, field_types=_type_list(field.types),
                                       value=repr(value), value_type=_TYPE_WORDS.get(type(value), "value")))
            return None
        if op in _EQUALITY and not self._allowed(field, value, field.options):
            self.reasons.append(Why(f"{text} compares '{field.name}' with a value it cannot hold", "cannot_hold",
                                    expression=text, field=field.name))
            return op is ast.NotEq
        return None

    def _allowed(self, field: Field, value, options: tuple | None, multi: bool = False) -> bool:
        """Whether the field can hold the value; if not, an error says why (with the nearest option)."""
        if value is None:
            return True
        types = field.types if not multi else None
        if types and not _fits(value, types):
            self.errors.append(Why(f"the {_type_words(types)} field '{field.name}' is compared with {value!r} "
                                   f"({_TYPE_WORDS.get(type(value), 'value')}): they are never equal", "type_mismatch",
                                   field=field.name, field_types=_type_list(types), value=repr(value),
                                   value_type=_TYPE_WORDS.get(type(value), "value")))
            return False
        if options is not None and value not in options and (not types or _fits(value, types)):
            close = difflib.get_close_matches(value, [o for o in options if isinstance(o, str)], n=1,
                                              cutoff=0.6) if isinstance(value, str) else []
            self.errors.append(Why(f"{value!r} is not one of the options of form field '{field.name}' "
                                   f"({_options_text(options)})" + (f": did you mean {close[0]!r}?" if close else ""),
                                   "not_an_option", value=repr(value), field=field.name,
                                   options=_options_text(options), suggestion=repr(close[0]) if close else None))
            return False
        return True


def _orderable(value, types: tuple[type, ...]) -> bool:
    numeric = (int, float, bool)
    if type(value) in numeric:
        return any(t in numeric or t is type(None) for t in types)
    return type(value) in types or type(None) in types


def _compare_literals(a, op: type, b) -> bool | None:
    try:
        if op in _EQUALITY:
            return bool(_EQUALITY[op](a, b))
        if op in _ORDER:
            return bool(_ORDER[op](a, b))
        if op in (ast.In, ast.NotIn) and isinstance(b, (tuple, str)):
            found = a in b
            return found if op is ast.In else not found
        if op in (ast.Is, ast.IsNot) and (a is None or b is None or (isinstance(a, bool) and isinstance(b, bool))):
            same = a is b
            return same if op is ast.Is else not same
    except TypeError:
        return None
    return None


def _constraints(values: list[ast.expr]) -> dict[str, list[tuple[type, object, str]]]:
    """Per variable, the comparisons with a literal that an ``and`` of these values requires."""
    found: dict[str, list[tuple[type, object, str]]] = {}
    for value in values:
        if not isinstance(value, ast.Compare):
            continue
        left = value.left
        for op, right in zip(value.ops, value.comparators):
            kind, name, literal = type(op), None, _MISSING
            if isinstance(left, ast.Name):
                name, literal = left.id, _literal(right)
            elif isinstance(right, ast.Name) and kind in _FLIP:
                name, literal, kind = right.id, _literal(left), _FLIP[kind]
            if name is not None and literal is not _MISSING and literal is not None:
                if kind in (ast.In, ast.NotIn) and not isinstance(literal, tuple):
                    literal = _MISSING
                if literal is not _MISSING and kind in (*_ORDER, *_EQUALITY, ast.In, ast.NotIn):
                    found.setdefault(name, []).append((kind, literal, ast.unparse(value)))
            left = right
    return found


def _contradiction(values: list[ast.expr]) -> Why | None:
    """Why comparisons joined by ``and`` cannot all hold for one variable, or None."""
    for name, constraints in _constraints(values).items():
        if len(constraints) < 2:
            continue
        allowed: set | None = None
        for kind, literal, _text in constraints:
            if kind is ast.Eq:
                allowed = {literal} if allowed is None else {v for v in allowed if _equal(v, literal)}
            elif kind is ast.In:
                members = set(literal) if isinstance(literal, tuple) else set()
                allowed = members if allowed is None else {v for v in allowed if v in members}
        texts = " and ".join(dict.fromkeys(t for _k, _l, t in constraints))
        if allowed is not None:
            if not any(_holds(v, constraints) for v in allowed):
                return Why(f"{texts}: these cannot all hold for one value of '{name}'", "contradiction",
                           expressions=texts, name=name)
            continue
        if _empty_interval(constraints):
            return Why(f"{texts}: these cannot all hold for one value of '{name}'", "contradiction",
                       expressions=texts, name=name)
    return None


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except TypeError:
        return False


def _holds(value, constraints) -> bool:
    for kind, literal, _text in constraints:
        try:
            if kind in _EQUALITY or kind in _ORDER:
                ok = ({**_EQUALITY, **_ORDER}[kind])(value, literal)
            elif kind is ast.In:
                ok = value in literal
            else:
                ok = value not in literal
        except TypeError:
            return False  # the comparison would stop the case, so it is never true either
        if not ok:
            return False
    return True


def _empty_interval(constraints) -> bool:
    """Whether the bounds (<, <=, >, >=) and exclusions of one variable leave no value, for numbers or texts."""
    bounds = [(k, v) for k, v, _t in constraints if k in _ORDER]
    if not bounds:
        return False
    numeric = all(type(v) in (int, float) for _k, v in bounds)
    if not numeric and not all(isinstance(v, str) for _k, v in bounds):
        return False
    low, low_strict, high, high_strict = None, False, None, False
    for kind, value in bounds:
        if kind in (ast.Gt, ast.GtE):
            strict = kind is ast.Gt
            if low is None or value > low or (value == low and strict):
                low, low_strict = value, strict
        else:
            strict = kind is ast.Lt
            if high is None or value < high or (value == high and strict):
                high, high_strict = value, strict
    if low is None or high is None:
        return False
    if low > high:
        return True
    if low == high:
        excluded = {v for k, v, _t in constraints if k is ast.NotEq}
        return low_strict or high_strict or low in excluded
    return False


def findings(specs: list, fields: dict[str, Field]) -> list[Finding]:
    """What is wrong with the gateway conditions of these specs (the process and its embedded subprocesses)."""
    found: list[Finding] = []
    for s in specs:
        for ts in s.task_specs.values():
            conditions = getattr(ts, "cond_task_specs", None) or []
            if not conditions:
                continue
            exclusive = hasattr(ts, "default_task_spec") and not _is_inclusive(ts)
            default = getattr(ts, "default_task_spec", None)
            decided: list[bool | None] = []
            for position, (cond, target) in enumerate(conditions):
                if cond is None:
                    decided.append(None)
                    continue
                source = cond.args[0] if getattr(cond, "args", None) else str(cond)
                element = f"{ts.name}→{target}"
                truth, errors, reasons = decide(source, fields)
                decided.append(truth)
                verdict = {False: "can never be true: ", True: "is always true: "}.get(truth, "is wrong: ")  # type: ignore
                verdict_code = {False: "never_true", True: "always_true"}.get(truth, "wrong")  # type: ignore
                for why in errors:
                    found.append(_finding(element, ERROR, verdict, verdict_code, why))
                if truth is False and not errors:
                    found.append(_finding(element, ERROR, verdict, verdict_code, reasons[-1] if reasons else None))
                elif truth is True and not errors and exclusive:
                    later = [t for c, t in conditions[position + 1:] if c is not None]
                    shadowed = f": the flows listed after it ({', '.join(later[:3])}) are never taken" if later \
                        else ""
                    why = reasons[-1] if reasons else "a constant"
                    found.append(Finding(element, WARNING, f"is always true ({why}), so it is taken "
                                                           f"whenever the gateway is reached{shadowed}; make it "
                                                           f"the gateway's default flow instead",
                                         "condition_always_true", _why_params(why) | {"later": later[:3]}))
            if not default and decided and all(d is False for d in decided):
                first = next(f"{ts.name}→{t}" for c, t in conditions if c is not None)
                found.append(Finding(first, ERROR, f"every condition leaving gateway '{ts.name}' is never true and "
                                                   f"it has no default flow: every case reaching it would stop "
                                                   f"there", "gateway_stuck", {"gateway": ts.name}))
    return found


def _why_params(why) -> dict:
    """The reason's code and figures, for a finding's params (``why``: the reason's code; its own params)."""
    return {"why": getattr(why, "code", None), **getattr(why, "params", {})}


def _finding(element: str, severity: str, verdict: str, verdict_code: str, why) -> Finding:
    """A refused condition: ``condition_<verdict>`` (never_true, always_true, wrong) and why, as code and params."""
    return Finding(element, severity, verdict + (why or ""), f"condition_{verdict_code}", _why_params(why))


def _is_inclusive(ts) -> bool:
    return any(c.__name__ == "InclusiveGateway" for c in type(ts).__mro__)


def decide(source: str, fields: dict[str, Field]) -> tuple[bool | None, list[str], list[str]]:
    tree = static_names._parse(source, "eval")
    if tree is None:
        return None, [], []
    condition = _Condition(tree, fields)
    try:
        truth = condition.truth(tree)
    except RecursionError:  # a hostile nesting: the sandbox's own checks bound what runs
        return None, [], []
    return truth, list(dict.fromkeys(condition.errors)), condition.reasons
