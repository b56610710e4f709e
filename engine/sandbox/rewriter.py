"""Rewriting a checked AST so that every operation that can reach an object's behaviour calls a guard.

The ``_g_*`` names called here are bound by ``guards.Run.namespace``."""
from __future__ import annotations

import ast


def _g(name: str, *args: ast.expr, like: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), list(args), []), like)


class Rewriter(ast.NodeTransformer):
    """Routes every operation that can reach an object's behaviour through a ``_g_*`` guard. User code
    cannot name or rebind the guards: names starting with '_' are refused."""

    def visit_Attribute(self, node):
        self.generic_visit(node)
        return _g("_g_attr", node.value, ast.Constant(node.attr), like=node)

    def visit_Call(self, node):
        self.generic_visit(node)
        call = _g("_g_call", node.func, *node.args, like=node)
        call.keywords = node.keywords
        return call

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return _g("_g_bin", ast.Constant(type(node.op).__name__), node.left, node.right, like=node)

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        op, target = ast.Constant(type(node.op).__name__), node.target
        if type(target) is ast.Name:
            value = _g("_g_bin", op, ast.Name(target.id, ast.Load()), node.value, ast.Constant(True), like=node)
            return ast.copy_location(ast.Assign([target], value), node)
        call = _g("_g_augitem", target.value, target.slice, op, node.value, like=node)  # key already weighed
        return ast.copy_location(ast.Expr(call), node)

    def visit_Compare(self, node):  # comparing nested containers walks them in C: weigh them first
        self.generic_visit(node)
        node.left = _g("_g_w", node.left, like=node.left)
        node.comparators = [_g("_g_w", c, like=c) for c in node.comparators]
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if type(node.ctx) is ast.Load:
            return _g("_g_item", node.value, node.slice, like=node)
        node.slice = _g("_g_w", node.slice, like=node.slice)  # tuple keys are hashed in C
        return node

    def visit_Slice(self, node):
        self.generic_visit(node)
        parts = [p if p is not None else ast.Constant(None) for p in (node.lower, node.upper, node.step)]
        return _g("_g_slice", *parts, like=node)

    def _iterates(self, node):
        self.generic_visit(node)
        node.iter = _g("_g_iter", node.iter, like=node.iter)
        return node

    visit_For = visit_comprehension = _iterates

    def visit_While(self, node):
        self.generic_visit(node)
        node.test = _g("_g_tick", node.test, like=node.test)
        return node

    def _hashed(self, node):  # dict keys and set elements are hashed in C: weigh them first
        self.generic_visit(node)
        field = {ast.Dict: "keys", ast.Set: "elts", ast.DictComp: "key", ast.SetComp: "elt"}[type(node)]
        value = getattr(node, field)
        setattr(node, field, [_g("_g_w", v, like=v) for v in value] if type(value) is list
                else _g("_g_w", value, like=value))
        return node

    visit_Dict = visit_Set = visit_DictComp = visit_SetComp = _hashed

    def visit_JoinedStr(self, node):
        parts = [v if type(v) is ast.Constant else _g(
            "_g_fmt", self.visit(v.value), ast.Constant(v.conversion),
            ast.Constant("".join(p.value for p in v.format_spec.values) if v.format_spec else ""), like=v)
            for v in node.values]
        return _g("_g_fstr", *parts, like=node)
