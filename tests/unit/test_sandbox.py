"""engine.sandbox: what BPMN expressions and scripts may do, every known escape, and SpiffWorkflow end to end."""
from __future__ import annotations

import datetime as dt
import decimal
import multiprocessing
import os
import resource
import time
from types import SimpleNamespace
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import sandbox
from engine.sandbox import Budget, SandboxedScriptEngine, SandboxError, check, evaluate, execute, spiff, watchdog
from engine.store import clock

# ------------------------------------------------------------------------------------------ what must work
DATA = {
    "x": 5, "s": "Hello World", "lst": [3, 1, 2], "d": {"k": 1, "j": 2}, "m": {"a": {"b": 7}},
    "none": None, "flag": True, "price": 1234.5, "name": "Anna", "n": 7,
    "amount": decimal.Decimal("10.25"), "day": dt.date(2026, 3, 2),
    "items": [{"p": 2, "q": 3}, {"p": 10, "q": 1}],
}


@pytest.mark.parametrize("source, expected", [
    # literals and names
    ("1", 1), ("1.5", 1.5), ("'s'", "s"), ("None", None), ("True", True), ("x", 5),
    # arithmetic, comparisons, boolean ops, in, if-expressions
    ("x * 2 + 3 - 1 / 2", 12.5), ("7 // 2", 3), ("7 % 3", 1), ("2 ** 10", 1024), ("-x", -5), ("~1", -2),
    ("1 << 3", 8), ("12 >> 2", 3), ("6 & 3 | 8 ^ 1", 11), ("1 < x <= 5", True), ("x != 2", True),
    ("none is None", True), ("flag and not none or False", True), ("'W' in s", True), ("3 not in lst", False),
    ("'k' in d", True), ("'big' if x > 3 else 'small'", "big"), ("amount * 2", decimal.Decimal("20.50")),
    ("day < day + (day - day)", False), ("s + '!'", "Hello World!"), ("lst + [4]", [3, 1, 2, 4]),
    ("'ab' * 3", "ababab"), ("d | {'z': 0}", {"k": 1, "j": 2, "z": 0}),
    # subscripts and slices
    ("lst[0]", 3), ("lst[-1]", 2), ("lst[1:3]", [1, 2]), ("s[::-1]", "dlroW olleH"), ("d['k']", 1),
    ("m['a']['b']", 7), ("(1, 2)[1]", 2),
    # displays and comprehensions
    ("[1, 2]", [1, 2]), ("(1,)", (1,)), ("{'a': 1}", {"a": 1}), ("{1, 2}", {1, 2}), ("{(1, 2): 3}", {(1, 2): 3}),
    ("[i * i for i in range(5) if i % 2]", [1, 9]), ("{i % 3 for i in range(10)}", {0, 1, 2}),
    ("{k: v * 2 for k, v in d.items()}", {"k": 2, "j": 4}), ("[(a, b) for a in range(2) for b in 'xy']",
                                                            [(0, "x"), (0, "y"), (1, "x"), (1, "y")]),
    ("sum(it['p'] * it['q'] for it in items)", 16), ("(y := 3) + y", 6),
    # f-strings
    ("f'{name} has {n:03d} items'", "Anna has 007 items"), ("f'{price:,.2f}|{name!r}|{n:>4}'", "1,234.50|'Anna'|   7"),
    ("f'{day:%Y-%m-%d}'", "2026-03-02"), ("f'{amount}'", "10.25"), ("f'{lst}'", "[3, 1, 2]"),
    # allow-listed builtins
    ("len(lst)", 3), ("min(lst)", 1), ("max(3, 9, 4)", 9), ("sum(lst)", 6), ("sum([0.5, 1], 1)", 2.5),
    ("abs(-2)", 2), ("round(2.567, 2)", 2.57), ("sorted(lst, reverse=True)", [3, 2, 1]),
    ("sorted(d, key=d.get)", ["k", "j"]), ("max(d, key=len)", "k"), ("any(v > 1 for v in lst)", True),
    ("all([])", True), ("int('42')", 42), ("int('ff', 16)", 255), ("float('1.5')", 1.5), ("str(12)", "12"),
    ("bool(0)", False), ("list('ab')", ["a", "b"]), ("dict(a=1)", {"a": 1}), ("dict([('a', 1)])", {"a": 1}),
    ("set([1, 1])", {1}), ("tuple(lst)", (3, 1, 2)), ("list(range(1, 7, 2))", [1, 3, 5]),
    ("list(enumerate('ab', 1))", [(1, "a"), (2, "b")]), ("list(zip(lst, 'abc'))", [(3, "a"), (1, "b"), (2, "c")]),
    # safe methods
    ("d.get('k')", 1), ("d.get('nope', 0)", 0), ("list(d.keys())", ["k", "j"]), ("list(d.values())", [1, 2]),
    ("s.lower()", "hello world"), ("s.upper()", "HELLO WORLD"), ("'  a '.strip()", "a"), ("s.startswith('He')", True),
    ("s.endswith('x')", False), ("s.split()", ["Hello", "World"]), ("'-'.join(['a', 'b'])", "a-b"),
    ("s.replace('l', 'L')", "HeLLo WorLd"), ("s.count('l')", 3), ("lst.index(2)", 2), ("(1, 2, 1).count(1)", 2),
    # timer expressions as SpiffWorkflow evaluates them
    ('"P7D"', "P7D"), ('"2026-12-01T10:00:00+01:00"', "2026-12-01T10:00:00+01:00"), ("'P' + str(n) + 'D'", "P7D"),
    ("f'PT{n * 2}H'", "PT14H"),
    # whitespace and newlines around an expression, as BPMN XML has them
    ("\n      x > 3\n    ", True), ("(x +\n 1)", 6),
])
def test_expressions_that_must_work(source, expected):
    check(source)
    assert evaluate(source, dict(DATA)) == expected


def test_script_statements_update_variables_in_place():
    variables = {"items": [{"p": 2, "q": 3}, {"p": 10, "q": 1}], "n": 0, "d": {"k": 1}, "untouched": "same"}
    script = """
total = 0
for it in items:
    if it["q"] > 2:
        total += it["p"] * it["q"]
    elif it["q"] == 2:
        continue
    else:
        total += it["p"]
        break
else:
    pass
while n < 3:
    n += 1
d["k"] += 5
d["new"] = [1]
d["new"].append(2)
d["new"][0] = 9
a, b = "x-y".split("-")
label = "big" if total > 10 else "small"
names = []
for i, ch in enumerate("ab"):
    names.append(f"{i}:{ch}")
"""
    check(script, "exec")
    assert execute(script, variables) is None
    assert variables["total"] == 16 and variables["n"] == 3 and variables["label"] == "big"
    assert variables["d"] == {"k": 6, "new": [9, 2]} and (variables["a"], variables["b"]) == ("x", "y")
    assert variables["names"] == ["0:a", "1:b"] and variables["untouched"] == "same"


def test_unreferenced_variables_are_not_inspected():
    assert evaluate("1 + 1", {"os": os}) == 2  # documented: only the names an expression uses are checked


# --------------------------------------------------------------------------------------- known escapes
def _refused(source, mode="eval", variables=None):
    """Refused at deploy time (check) or, failing that, when run; returns the message."""
    with pytest.raises(SandboxError) as info:
        check(source, mode)
        (evaluate if mode == "eval" else execute)(source, dict(variables or {}))
    return str(info.value)


@pytest.mark.parametrize("source, mode, words", [
    ("import os", "exec", "import statements are not allowed"),
    ("from os import system", "exec", "import statements are not allowed"),
    ("__import__('os')", "eval", "names starting with '_' are not allowed: '__import__'"),
    ("open('/etc/passwd')", "eval", "name 'open' is not allowed"),
    ("eval('1')", "eval", "name 'eval' is not allowed"),
    ("exec('x = 1')", "eval", "name 'exec' is not allowed"),
    ("compile('1', 'f', 'eval')", "eval", "name 'compile' is not allowed"),
    ("getattr(x, 'y')", "eval", "name 'getattr' is not allowed"),
    ("globals()", "eval", "name 'globals' is not allowed"),
    ("locals()", "eval", "name 'locals' is not allowed"),
    ("vars()", "eval", "name 'vars' is not allowed"),
    ("type(x)", "eval", "name 'type' is not allowed"),
    ("object()", "eval", "name 'object' is not allowed"),
    ("().__class__.__base__.__subclasses__()", "eval", "names starting with '_' are not allowed"),
    ("x.__class__", "eval", "names starting with '_' are not allowed: '__class__'"),
    ("x._private", "eval", "names starting with '_' are not allowed: '_private'"),
    ("_hidden", "eval", "names starting with '_' are not allowed: '_hidden'"),
    ("__builtins__", "eval", "names starting with '_' are not allowed: '__builtins__'"),
    ("(lambda: 0).__code__", "eval", "names starting with '_' are not allowed: '__code__'"),
    ("(x for x in y).gi_frame", "eval", "attribute 'gi_frame' is not allowed"),
    ("g.gi_code", "eval", "attribute 'gi_code' is not allowed"),
    ("f.f_globals", "eval", "attribute 'f_globals' is not allowed"),
    ("f.f_back", "eval", "attribute 'f_back' is not allowed"),
    ("f.f_builtins", "eval", "attribute 'f_builtins' is not allowed"),
    ("tb.tb_frame", "eval", "attribute 'tb_frame' is not allowed"),
    ("c.cr_frame", "eval", "attribute 'cr_frame' is not allowed"),
    ("a.ag_frame", "eval", "attribute 'ag_frame' is not allowed"),
    ("fn.func_globals", "eval", "attribute 'func_globals' is not allowed"),
    ("'{0.__class__}'.format(x)", "eval", "'format' is not allowed"),
    ("'{a}'.format_map(d)", "eval", "'format_map' is not allowed"),
    ("str.format('{0}', x)", "eval", "'format' is not allowed"),
    ("f'{x.__class__}'", "eval", "names starting with '_' are not allowed: '__class__'"),
    ("f'{x:{w}}'", "eval", "nested {} in an f-string format spec are not allowed"),
    ("f'{x:>999999999}'", "eval", "format spec '>999999999' is not allowed"),
    ("lambda: 0", "eval", "lambda is not allowed"),
    ("def f():\n    pass", "exec", "function definitions (def) are not allowed"),
    ("class A:\n    pass", "exec", "class definitions are not allowed"),
    ("global x", "exec", "global statements are not allowed"),
    ("nonlocal x", "exec", "nonlocal statements are not allowed"),
    ("try:\n    pass\nexcept Exception:\n    pass", "exec", "try statements are not allowed"),
    ("with x:\n    pass", "exec", "with statements are not allowed"),
    ("raise ValueError('x')", "exec", "raise statements are not allowed"),
    ("yield 1", "exec", "yield is not allowed"),
    ("(yield)", "eval", "yield is not allowed"),
    ("await x", "exec", "await is not allowed"),
    ("(_x := 1)", "eval", "names starting with '_' are not allowed: '_x'"),
    ("(__builtins__ := {})", "eval", "names starting with '_' are not allowed: '__builtins__'"),
    ("[(_g_call := i) for i in y]", "eval", "names starting with '_' are not allowed: '_g_call'"),
    ("del x", "exec", "del statements are not allowed"),
    ("a, *b = x", "exec", "* unpacking is not allowed"),
    ("f(**d)", "eval", "** unpacking is not allowed"),
    ("{**d}", "eval", "** unpacking is not allowed"),
    ("len(_x=1)", "eval", "names starting with '_' are not allowed: '_x'"),
    ("x.y = 1", "exec", "assigning to attributes is not allowed"),
    ("lst[0:1] = lst", "exec", "slice assignment is not allowed"),
    ("b'abc'", "eval", "bytes literals are not allowed"),
    ("assert x", "exec", "'Assert' syntax is not allowed"),
    ("x @ y", "eval", "operator 'MatMult' is not allowed"),
    ("x = (", "exec", "syntax error"),
])
def test_known_escapes_are_refused_before_running(source, mode, words):
    with pytest.raises(SandboxError) as info:
        check(source, mode)
    assert words in str(info.value)
    assert info.value.line is not None


def test_error_names_line_and_column():
    with pytest.raises(SandboxError) as info:
        check("a = 1\nb = a.__class__", "exec")
    err = info.value
    assert (err.line, err.col) == (2, 7)
    assert str(err) == "line 2: names starting with '_' are not allowed: '__class__' (column 7)"
    with pytest.raises(SandboxError) as info:
        execute("a = 1\nb = c + 1", {})
    assert info.value.line == 2 and "NameError" in str(info.value)


def _refused_isolated(source, mode, variables=None):
    """_refused in a forked child with a memory cap and a deadline: were a protection missing, the test
    fails (MemoryError, timeout) instead of taking the whole test run down with it."""
    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)

    def child():
        resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))
        try:
            check(source, mode)
            (evaluate if mode == "eval" else execute)(source, dict(variables or {}))
            writer.send("no error")
        except SandboxError as e:
            writer.send(str(e))

    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    message = reader.recv() if reader.poll(30) else "timed out"
    proc.kill()
    proc.join()
    return message


@pytest.mark.parametrize("source, mode, words", [
    ("while True:\n    pass", "exec", "step budget exceeded"),
    ("for i in range(100000):\n    for j in range(100000):\n        pass", "exec", "step budget exceeded"),
    ("[[j for j in range(1000)] for i in range(1000)]", "eval", "step budget exceeded"),
    ("sum(1 for i in range(1000) for j in range(1000))", "eval", "step budget exceeded"),
    ("l = [1]\nfor x in l:\n    l.append(x)", "exec", "step budget exceeded"),
    ("for i in range(10**12):\n    pass", "exec", "range too large"),
    ("list(range(10**9))", "eval", "range too large"),
])
def test_huge_loops_are_stopped(source, mode, words):
    assert words in _refused_isolated(source, mode)


def test_wall_time_budget(monkeypatch):
    monkeypatch.setattr(sandbox.limits, "MAX_STEPS", 10**9)  # only the clock can stop this one
    monkeypatch.setattr(sandbox.limits, "MAX_SECONDS", 0.01)
    script = "x = ''\nfor i in range(100000):\n    x = str(i) + x[:20]"
    assert "time budget exceeded" in _refused(script, "exec")


@pytest.mark.parametrize("source, mode, words", [
    ("'a' * 10**10", "eval", "result too large"),
    ("10**10 * 'a'", "eval", "result too large"),
    ("[0] * 10**9", "eval", "result too large"),
    ("10 ** 10 ** 10", "eval", "integer result too large"),
    ("2 << 10**9", "eval", "integer result too large"),
    ("x = 3\nfor i in range(40):\n    x = x * x", "exec", "integer result too large"),
    ("s = 'ab'\nfor i in range(100):\n    s += s", "exec", "result too large"),
    ("s = 'ab'\nfor i in range(100):\n    s = s + s", "exec", "result too large"),
    ("x = 'x' * 900000\nparts = []\nfor i in range(50):\n    parts.append(x + str(i))", "exec",
     "memory budget exceeded"),
    ("('a' * 1000).replace('', 'b' * 10000)", "eval", "result too large"),
    ("('x' * 100000).join(['a'] * 1000)", "eval", "result too large"),
    ("l = list(range(60000))\nl.extend(l)", "exec", "result too large"),
    ("l = list(range(60000))\nl += l", "exec", "result too large"),
    ("round(5, -10**9)", "eval", "ndigits must be"),
    ("int('9' * 5000)", "eval", "string too long"),
    # shared references: 20 doublings are 2**20 leaves for str(), ==, hash() in C
    ("x = [1]\nfor i in range(20):\n    x = [x, x]\ny = str(x)", "exec", "str() argument is too large"),
    ("x = [1]\nfor i in range(20):\n    x = [x, x]\ny = f'{x}'", "exec", "f-string value is too large"),
    ("a = [1]\nb = [1]\nfor i in range(20):\n    a = [a, a]\n    b = [b, b]\nc = a == b", "exec",
     "operand is too large"),
    ("t = (1,)\nfor i in range(20):\n    t = (t, t)\ns = {t}", "exec", "operand is too large"),
    ("t = (1,)\nfor i in range(20):\n    t = (t, t)\nd = {}\nd[t] = 1", "exec", "operand is too large"),
    ("x = [1]\nfor i in range(20):\n    x = [x, x]\ny = sorted([x, x])", "exec", "argument is too large"),
    ("sum([[1], [2]], [])", "eval", "sum() adds numbers only"),
    ("'%s' % x", "eval", "'%' string formatting is not allowed"),
])
def test_huge_allocations_are_stopped(source, mode, words):
    assert words in _refused_isolated(source, mode, {"x": 1})


# ------------------------------------------------------------------------- task data is no route out
class _Thing:
    def get(self, key):
        return os.system


class _SneakyDict(dict):
    pass


@pytest.mark.parametrize("source, variables, words", [
    ("f('/etc/passwd')", {"f": open}, "variable 'f' holds a 'builtin_function_or_method'"),
    ("m", {"m": os}, "variable 'm' holds a 'module'"),
    ("d['k']('ls')", {"d": {"k": os.system}}, "variable 'd' holds a 'builtin_function_or_method'"),
    ("t.get('k')", {"t": _Thing()}, "variable 't' holds a '_Thing'"),
    ("c.get('k')", {"c": _SneakyDict()}, "variable 'c' holds a '_SneakyDict'"),
    ("k", {"k": type}, "variable 'k' holds a 'type'"),
    ("x()", {"x": 1}, "'int' values cannot be called"),
    ("x.append(1)", {"x": "s"}, "attribute 'append' is not allowed on 'str' values"),
    ("range(3)", {}, "result holds a 'range'"),
])
def test_variables_must_be_plain_data(source, variables, words):
    assert words in _refused(source, "eval", variables)


def test_scripts_can_only_store_plain_data():
    variables = {"d": {"a": 1}}
    with pytest.raises(SandboxError, match="variable 'k' holds a 'dict_keys'"):
        execute("x = 1\nk = d.keys()", variables)
    assert variables == {"d": {"a": 1}}  # nothing stored when one value is refused
    with pytest.raises(SandboxError, match="variable 'f' holds a 'builtin_function_or_method'"):
        execute("f = len", variables)
    with pytest.raises(SandboxError, match="variable 'd' holds a 'builtin_function_or_method'"):
        execute("d['f'] = len", {"d": {}})  # smuggled into task data in place
    with pytest.raises(SandboxError, match="variable 'd' holds a '_Bound'"):
        evaluate("d.update(g=d.get) or True", {"d": {}})  # not even a condition may leave code behind


# ------------------------------------------------------------------------------ SpiffWorkflow end to end
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://segito.example/test">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="enter_order"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="compute"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="is_big" default="f_small">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f_big</bpmn:outgoing><bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:serviceTask id="approve">
      <bpmn:extensionElements>
        <spiff:serviceTaskOperator id="approve_order" resultVariable="approval">
          <spiff:parameters>
            <spiff:parameter id="amount" type="int" value="total" />
            <spiff:parameter id="note" type="str" value="'big order'" />
          </spiff:parameters>
        </spiff:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f_big</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:timerEventDefinition id="timer">
        <bpmn:{timer_kind} xsi:type="bpmn:tFormalExpression">{timer}</bpmn:{timer_kind}>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end_big"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>f_small</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="enter_order" />
    <bpmn:sequenceFlow id="f2" sourceRef="enter_order" targetRef="compute" />
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="is_big" />
    <bpmn:sequenceFlow id="f_big" sourceRef="is_big" targetRef="approve">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="is_big" targetRef="end_small" />
    <bpmn:sequenceFlow id="f4" sourceRef="approve" targetRef="wait" />
    <bpmn:sequenceFlow id="f5" sourceRef="wait" targetRef="end_big" />
  </bpmn:process>
</bpmn:definitions>
"""
SCRIPT = """
total = sum(it["price"] * it["qty"] for it in items)
label = f"{customer.upper()}: {total:.2f}"
"""


def _workflow(tmp_path, services, script=SCRIPT, condition="total > 100", timer_kind="timeDuration", timer='"P7D"'):
    path = tmp_path / "order.bpmn"
    path.write_text(BPMN.format(script=escape(script), condition=escape(condition), timer_kind=timer_kind,
                                timer=escape(timer)), encoding="utf-8")
    clock.install_into_spiffworkflow()  # timers read the engine clock (frozen by conftest), as in production
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(path))
    return BpmnWorkflow(parser.get_spec("order"), parser.get_subprocess_specs("order"),
                        script_engine=SandboxedScriptEngine(services=services))


def _enter_order(wf, items):
    wf.do_engine_steps()
    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
    assert task.task_spec.name == "enter_order"
    task.data.update({"customer": "acme", "items": items})
    task.run()
    wf.do_engine_steps()


def test_end_to_end_big_order_calls_service_and_waits_seven_days(tmp_path):
    calls = []

    def approve_order(task_data, amount, note):
        calls.append((task_data["label"], amount, note))
        return {"approved": True, "limit": amount * 2}

    wf = _workflow(tmp_path, {"approve_order": approve_order})
    _enter_order(wf, [{"price": 60, "qty": 2}, {"price": 5, "qty": 1}])
    assert calls == [("ACME: 125.00", 125, "big order")]
    [wait] = wf.get_tasks(state=TaskState.WAITING)
    assert wait.task_spec.name == "wait" and wait.data["approval"] == {"approved": True, "limit": 250}
    assert dt.datetime.fromisoformat(wait._get_internal_data("event_value")) == clock.now() + dt.timedelta(days=7)
    wf.refresh_timers()
    assert not wf.is_completed()
    clock.advance(dt.timedelta(days=7, seconds=1))
    wf.refresh_timers()
    wf.do_engine_steps()
    assert wf.is_completed()
    assert wf.last_task.data["label"] == "ACME: 125.00"


def test_end_to_end_small_order_takes_default_flow(tmp_path):
    wf = _workflow(tmp_path, {"approve_order": lambda task_data, **params: pytest.fail("must not be called")})
    _enter_order(wf, [{"price": 5, "qty": 2}])
    assert wf.is_completed()
    assert [t.task_spec.name for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.name.startswith("end")] \
        == ["end_small"]


def test_end_to_end_time_date_timer(tmp_path):
    wf = _workflow(tmp_path, {"approve_order": lambda task_data, **params: "ok"}, timer_kind="timeDate",
                   timer='"2026-12-01T10:00:00+01:00"')
    _enter_order(wf, [{"price": 500, "qty": 1}])
    [wait] = wf.get_tasks(state=TaskState.WAITING)
    assert wait._get_internal_data("event_value") == "2026-12-01T10:00:00+01:00"


@pytest.mark.parametrize("where, source, words", [
    ("script", "import os\nos.system('touch /tmp/pwned')", "import statements are not allowed"),
    ("script", "total = ().__class__.__base__.__subclasses__()", "names starting with '_' are not allowed"),
    ("script", "while True:\n    pass", "step budget exceeded"),
    ("condition", "total.__class__", "names starting with '_' are not allowed: '__class__'"),
    ("condition", "open('/etc/passwd')", "name 'open' is not allowed"),
    ("timer", "'P' * 10**10", "result too large"),
    # timer values are checked before SpiffWorkflow's duration arithmetic (engine/sandbox/timer_values.py)
    ("timer", "'P' + str(10**9 - 1) + 'Y'", "timer value refused: 'P999999999Y': a duration is at most 10 years"),
    ("timer", "'-PT1H'", "a duration cannot be negative"),
    ("timer", "'not a duration'", "is not an ISO 8601 duration"),
    ("timer", "7", "a timer must give text"),
])
def test_end_to_end_escape_fails_the_task(tmp_path, where, source, words):
    kwargs = {"script": SCRIPT + "\n" + source} if where == "script" else {where: source}
    wf = _workflow(tmp_path, {"approve_order": lambda task_data, **params: "ok"}, **kwargs)
    with pytest.raises(WorkflowTaskException) as info:
        _enter_order(wf, [{"price": 500, "qty": 1}])
    assert words in str(info.value)
    assert isinstance(info.value.__cause__, SandboxError)
    assert info.value.task is not None and info.value.error_type == "SandboxError"


@pytest.mark.parametrize("services, words", [
    ({}, "unknown service operation 'approve_order'"),
    ({"approve_order": lambda task_data, **params: 1 / 0}, "service 'approve_order' failed: ZeroDivisionError"),
    ({"approve_order": lambda task_data, **params: {1, 2}}, "not JSON serializable"),
])
def test_end_to_end_service_errors_fail_the_task(tmp_path, services, words):
    wf = _workflow(tmp_path, services)
    with pytest.raises(WorkflowTaskException, match=words):
        _enter_order(wf, [{"price": 500, "qty": 1}])


def test_engine_validate_keeps_syntax_error_contract_and_refuses_escapes():
    engine = SandboxedScriptEngine()
    engine.validate("x > 1")
    with pytest.raises(SyntaxError):  # SpiffWorkflow's DMN engine relies on this
        engine.validate("> 1")
    with pytest.raises(SandboxError, match="__class__"):
        engine.validate("x.__class__")


def test_environment_used_directly_by_spiffworkflow_is_sandboxed():
    env = SandboxedScriptEngine().environment  # BpmnProcessSpec calls environment.evaluate itself
    assert env.evaluate("a + b", {"a": 1}, {"b": 2}) == 3
    with pytest.raises(SandboxError, match="name 'open' is not allowed"):
        env.evaluate("open('/etc/passwd')", {})


# ------------------------------------------------------------------- one command's budget, the watchdog
def test_a_commands_evaluations_share_one_time_budget():
    budget = Budget(0.3)
    lap = "for i in range(20000):\n    pass"  # well within one evaluation's own limits
    started = time.monotonic()
    with pytest.raises(SandboxError, match=r"ran longer than 0\.3 s in one command"):
        for _ in range(10_000):
            sandbox.runner.run(lap, "exec", {}, None, budget)
    assert time.monotonic() - started < 0.6
    with pytest.raises(SandboxError, match=r"ran longer than 0\.3 s in one command"):
        sandbox.runner.run("1", "eval", {}, None, budget)  # no evaluation starts once the time is up
    with pytest.raises(SandboxError, match=r"ran longer than 0\.3 s in one command"):
        budget.check()  # what the engine steps call between tasks


def test_a_commands_evaluations_share_one_memory_budget(monkeypatch):
    monkeypatch.setattr(sandbox.limits, "MAX_COMMAND_ALLOC", 3_000_000)
    budget = Budget()
    build = "s = 'x' * 900000"
    for _ in range(3):
        sandbox.runner.run(build, "exec", {}, None, budget)
    with pytest.raises(SandboxError, match="built more than 3000000 characters/items in one command"):
        sandbox.runner.run(build, "exec", {}, None, budget)
    sandbox.runner.run(build, "exec", {}, None, Budget())  # another command has its own


@pytest.mark.parametrize("source", [
    "x = []\nfor i in range(60000):\n    x = [x]",  # would fail with RecursionError when the state is saved
    "x = {}\nfor i in range(60):\n    x = {'a': x}",
])
def test_values_nested_too_deeply_are_refused(source):
    assert "nested too deeply" in _refused(source, "exec")


def test_ordinary_nesting_is_fine():
    variables = {}
    execute("x = []\nfor i in range(40):\n    x = [x]\ny = {'a': {'b': [{'c': 1}]}}", variables)
    assert variables["y"] == {"a": {"b": [{"c": 1}]}}


@pytest.mark.parametrize("value, ok", [(3, True), (0, True), (1000, True), (1001, False), (-1, False),
                                       ("3", False), (True, False), (10**9, False)])
def test_a_multi_instance_cardinality_is_bounded_before_spiffworkflow_makes_the_children(value, ok):
    task = SimpleNamespace(task_spec=SimpleNamespace(cardinality="n", event_definition=None))
    if ok:
        spiff._check_result(task, "n", value)
    else:
        with pytest.raises(SandboxError, match="loop cardinality must be a whole number from 0 to 1000"):
            spiff._check_result(task, "n", value)


def _spin(seconds: float) -> int:
    laps, until = 0, time.monotonic() + seconds
    while time.monotonic() < until:
        laps += 1
    return laps


def test_the_watchdog_stops_python_code_that_no_guard_sees():
    started = time.monotonic()
    with pytest.raises(watchdog.Overrun), watchdog.deadline(time.monotonic() + 0.1):
        while True:  # as SpiffWorkflow's month loop: pure Python, no sandbox guard in it
            try:
                _spin(0.01)
            except Exception:  # noqa: BLE001 - code that swallows errors does not swallow Overrun
                pass
    assert time.monotonic() - started < 0.5
    _spin(0.2)  # nothing is left pending for this thread


def test_the_watchdog_does_nothing_to_a_block_that_ends_in_time():
    with watchdog.deadline(time.monotonic() + 0.2):
        _spin(0.05)
    _spin(0.3)  # past the deadline, but disarmed: nothing arrives
    with watchdog.deadline(time.monotonic() + 0.05):  # nested use on the same thread is independent
        pass
