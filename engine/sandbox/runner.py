"""Running checked code against task data: check, evaluate and execute."""
from __future__ import annotations

from .checker import compile_source
from .errors import located
from .guards import Run
from .plain_data import CONTAINERS, walk


def run(source: str, mode: str, variables: dict, extra: dict | None = None, budget=None):
    """Run checked source against variables; budget is the command's (``Budget``), shared by its evaluations."""
    code, names = compile_source(source, mode)
    guards, injected = Run(budget), {}
    extra = extra or {}
    for name in names:  # only the variables the code names are exposed, and checked
        if name in variables or name in extra:
            injected[name] = variables[name] if name in variables else extra[name]
            walk(injected[name], f"variable '{name}'", True)
    ns = {**guards.namespace(), **injected}
    try:
        if mode == "eval":
            result = eval(code, ns)
        else:
            exec(code, ns)
            result = None
        walk(result, "the expression's result", True)
        updates = {}
        for name, value in ns.items():  # user code cannot bind '_' names: these are its own variables
            if name.startswith("_"):
                continue
            if not (name in injected and injected[name] is value) or type(value) in CONTAINERS:
                walk(value, f"variable '{name}'", True)  # new, rebound, or possibly mutated in place
            if mode == "exec" and not (name in injected and injected[name] is value):
                updates[name] = value
    except Exception as err:
        raise located(err) from err
    variables.update(updates)  # only once every value passed the check
    return result


def check(source: str, mode: str = "eval") -> None:
    """Raise SandboxError if source does not parse or uses anything forbidden (deploy-time check)."""
    compile_source(source, mode)


def evaluate(source: str, variables: dict) -> object:
    """Evaluate an expression against variables (task data); the result is plain data."""
    return run(source, "eval", variables)


def execute(source: str, variables: dict) -> None:
    """Run a script; the names it binds (to plain data) are stored into variables in place."""
    run(source, "exec", variables)
