"""Model-free candidates: buggy variants of reference solutions made by AST-located source edits.

Mutations are found on the AST but applied as small edits to the original text, so a mutant keeps the
reference's comments and layout: a critic must read the logic, not spot a reformatted file. Kinds:
compare (< vs <=, == vs !=, in vs not in ...), arith (+ vs -, // vs / ...), boolop (and vs or), negate (drop or add
`not`), off-by-one (range bounds, indices, slice bounds), constant (integer boundary constants +-1, True/False),
drop-branch (an else/elif branch, a whole if without else, a comprehension filter, one side of `a if c else b`),
drop-statement (an update inside a loop), swap-args (adjacent positional arguments, operands of - / // % **),
swap-call (min/max, any/all, lower/upper, startswith/endswith ...), early-return (the function's final return
repeated at the end of its first loop body). Every mutant compiles and its AST differs from the reference's;
selection is seeded per (seed, problem, reference), so runs are reproducible.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass
from typing import Any

from ..errors import CrlError
from ..options import Options
from ..records import candidates_of
from .base import Backend, Completion, SamplingParams

KINDS = (
    "compare",
    "arith",
    "boolop",
    "negate",
    "off-by-one",
    "constant",
    "drop-branch",
    "drop-statement",
    "swap-args",
    "swap-call",
    "early-return",
)

_CMP = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_CMP_SWAP = {
    "<": ("<=", ">"),
    "<=": ("<", ">="),
    ">": (">=", "<"),
    ">=": (">", "<="),
    "==": ("!=",),
    "!=": ("==",),
    "in": ("not in",),
    "not in": ("in",),
    "is": ("is not",),
    "is not": ("is",),
}
_BIN = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
}
_BIN_SWAP = {
    "+": ("-",),
    "-": ("+",),
    "*": ("+", "//"),
    "/": ("*", "//"),
    "//": ("/", "%"),
    "%": ("//",),
    "**": ("*",),
    "<<": (">>",),
    ">>": ("<<",),
    "|": ("&",),
    "&": ("|",),
    "^": ("|",),
}
# Expressions that `x + 1` can follow without parentheses.
_TIGHT = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant)
# Builtins whose swapped arguments only raise TypeError: a crash, not a plausible bug.
_NO_SWAP = {
    "map",
    "filter",
    "isinstance",
    "issubclass",
    "getattr",
    "setattr",
    "hasattr",
    "enumerate",
    "round",
    "int",
    "reduce",
    "divmod",
    "pow",
    "open",
    "format",
}
# Functions and methods with a sibling of the same shape and the opposite meaning.
_CALL_SWAP = {
    a: b
    for x, y in (
        ("min", "max"),
        ("any", "all"),
        ("lower", "upper"),
        ("startswith", "endswith"),
        ("islower", "isupper"),
        ("find", "rfind"),
        ("index", "rindex"),
        ("lstrip", "rstrip"),
        ("ljust", "rjust"),
        ("floor", "ceil"),
        ("isdigit", "isalpha"),
        ("bisect_left", "bisect_right"),
        ("heappush", "heappushpop"),
    )
    for a, b in ((x, y), (y, x))
}
_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


@dataclass(frozen=True)
class Mutation:
    kind: str
    detail: str
    edits: tuple[tuple[int, int, str], ...]  # (start, end, replacement) character offsets into the source


class _Source:
    """Character offsets from the AST's (line, UTF-8 byte column) positions."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def pos(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        if not line.isascii():
            col = len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
        return self.starts[lineno - 1] + col

    # `node` is any positioned node of a parsed tree: ast.AST itself declares no positions, and typeshed makes the
    # end ones optional, but ast.parse fills them in on every expr and stmt.
    def span(self, node: Any) -> tuple[int, int]:
        return self.pos(node.lineno, node.col_offset), self.pos(node.end_lineno, node.end_col_offset)

    def seg(self, node: Any) -> str:
        a, b = self.span(node)
        return self.text[a:b]

    def end(self, node: Any) -> int:
        """The node's last line (see span)."""
        return node.end_lineno

    def line_rest_blank(self, lineno: int, col_char_end: int) -> bool:
        rest = self.text[col_char_end : self.starts[lineno]]
        return rest.strip() == "" or rest.strip().startswith("#")

    def starts_line(self, node: Any) -> bool:
        a, _ = self.span(node)
        return self.text[self.starts[node.lineno - 1] : a].strip() == ""

    def indent(self, lineno: int) -> str:
        line = self.lines[lineno - 1]
        return line[: len(line) - len(line.lstrip())]


def _gap_op(src: _Source, left: ast.AST, right: ast.AST, op: str) -> tuple[int, int] | None:
    """Where operator `op` sits between two operands, if the gap holds only it, spaces and parentheses."""
    a, b = src.span(left)[1], src.span(right)[0]
    gap = src.text[a:b]
    if re.sub(r"[\s()\\]+", " ", gap).strip() != op:
        return None
    m = re.search(re.escape(op).replace(r"\ ", r"\s+"), gap)
    return (a + m.start(), a + m.end()) if m else None


def _plus_one(src: _Source, node: ast.AST, delta: int) -> str:
    text = src.seg(node)
    if isinstance(node, ast.Constant) and type(node.value) is int and text.isdigit():
        return str(max(0, node.value + delta))
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, (ast.Add, ast.Sub))
        and isinstance(node.right, ast.Constant)
        and node.right.value == 1
        and delta == (1 if isinstance(node.op, ast.Sub) else -1)
    ):
        return src.seg(node.left)  # `n - 1` -> `n`: the natural off-by-one
    tight = (
        isinstance(node, _TIGHT)
        or (isinstance(node, ast.BinOp) and isinstance(node.op, _ARITH))
        or (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)))
    )
    body = text if tight else f"({text})"
    return f"{body} {'+' if delta > 0 else '-'} 1"


def find_mutations(source: str) -> list[Mutation]:
    """Every single-site mutation of `source` (which must parse), in a fixed order (the AST walk's): `mutants`
    draws from this list with a seeded generator, so the order is part of what makes a run reproducible."""
    return _Finder(source).run()


class _Finder:
    """The mutation operators, one method per family of syntax, each adding what it finds at one node."""

    def __init__(self, source: str):
        self.tree = ast.parse(source)
        self.src = _Source(source)
        self.out: list[Mutation] = []
        self.docstrings = {
            id(n.body[0].value)
            for n in ast.walk(self.tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
            and n.body
            and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
        }
        self.loop_bodies = {id(s) for n in ast.walk(self.tree) if isinstance(n, (ast.For, ast.While)) for s in n.body}

    def run(self) -> list[Mutation]:
        for node in ast.walk(self.tree):
            if not self.expression(node):
                continue  # an operator that is no plausible bug there (string `+`): the node is left alone
            if isinstance(node, ast.Call):
                self.call(node)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                self.subscript(node)
            if isinstance(node, ast.If):
                self.drop_if(node)
            self.drop_statement(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.early_return(node)
        return self.out

    def add(self, kind: str, node: ast.AST, detail: str, *edits: tuple[int, int, str]) -> None:
        self.out.append(Mutation(kind, f"{detail} (line {getattr(node, 'lineno', '?')})", tuple(edits)))

    def off_by_one(self, node: ast.AST, where: str) -> None:
        src = self.src
        a, b = src.span(node)
        for delta in (1, -1):
            new = _plus_one(src, node, delta)
            if new != src.seg(node):
                self.add("off-by-one", node, f"{where}: {src.seg(node)} -> {new}", (a, b, new))

    # -- expressions -----------------------------------------------------------------------------------------
    def expression(self, node: ast.AST) -> bool:
        """Operators, conditions, constants and filters; False when the node is to be left alone altogether."""
        if isinstance(node, ast.Compare):
            self.compare(node)
        elif isinstance(node, (ast.BinOp, ast.AugAssign)):
            return self.arith(node)
        elif isinstance(node, ast.BoolOp):
            self.boolop(node)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            a, b = self.src.span(node)
            seg = self.src.text[a:b]
            if seg.startswith("not") and isinstance(node.operand, _TIGHT + (ast.Compare,)):
                self.add("negate", node, "dropped `not`", (a, b, seg[3:].lstrip()))
        elif isinstance(node, (ast.If, ast.While)) and not isinstance(node.test, ast.Constant):
            a, b = self.src.span(node.test)
            seg = self.src.text[a:b]
            if not (isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)):
                new = f"not {seg}" if isinstance(node.test, _TIGHT) else f"not ({seg})"
                self.add("negate", node.test, "negated condition", (a, b, new))
        elif isinstance(node, ast.Constant) and id(node) not in self.docstrings:
            self.constant(node)
        elif isinstance(node, ast.IfExp):
            a, b = self.src.span(node)
            self.add(
                "drop-branch",
                node,
                "conditional expression keeps only its first value",
                (a, b, self.src.seg(node.body)),
            )
            self.add(
                "drop-branch",
                node,
                "conditional expression keeps only its else value",
                (a, b, self.src.seg(node.orelse)),
            )
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self.comprehension_filters(node)
        return True

    def compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            text = _CMP[type(op)]
            at = _gap_op(self.src, operands[i], operands[i + 1], text)
            if at:
                for new in _CMP_SWAP[text]:
                    self.add("compare", node, f"{text} -> {new}", (at[0], at[1], new))

    def arith(self, node: ast.BinOp | ast.AugAssign) -> bool:
        src = self.src
        text = _BIN.get(type(node.op))
        if text is None:
            return False
        operands = (node.left, node.right) if isinstance(node, ast.BinOp) else (node.value,)
        if any(
            isinstance(x, (ast.JoinedStr, ast.List))
            or (isinstance(x, ast.Constant) and isinstance(x.value, (str, bytes)))
            for x in operands
        ):
            return False  # `"a" + s` -> `"a" - s` is a TypeError, not a plausible bug
        left, right = (node.left, node.right) if isinstance(node, ast.BinOp) else (node.target, node.value)
        at = _gap_op(src, left, right, text + ("=" if isinstance(node, ast.AugAssign) else ""))
        if at:
            for new in _BIN_SWAP[text]:
                self.add("arith", node, f"{text} -> {new}", (at[0], at[0] + len(text), new))
        if isinstance(node, ast.BinOp) and text in ("-", "/", "//", "%", "**") and src.seg(left) != src.seg(right):
            (la, lb), (ra, rb) = src.span(left), src.span(right)
            self.add(
                "swap-args", node, f"operands of {text} swapped", (la, lb, src.seg(right)), (ra, rb, src.seg(left))
            )
        return True

    def boolop(self, node: ast.BoolOp) -> None:
        text = "and" if isinstance(node.op, ast.And) else "or"
        other = "or" if text == "and" else "and"
        for i in range(len(node.values) - 1):
            at = _gap_op(self.src, node.values[i], node.values[i + 1], text)
            if at:
                self.add("boolop", node, f"{text} -> {other}", (at[0], at[1], other))

    def constant(self, node: ast.Constant) -> None:
        a, b = self.src.span(node)
        if isinstance(node.value, bool):
            self.add("constant", node, f"{node.value} -> {not node.value}", (a, b, str(not node.value)))
        elif type(node.value) is int and self.src.text[a:b].isdigit():
            for new in sorted({node.value + 1, max(0, node.value - 1)} - {node.value}):
                self.add("constant", node, f"{node.value} -> {new}", (a, b, str(new)))

    def comprehension_filters(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        src = self.src
        for gen in node.generators:
            prev = gen.iter
            for cond in gen.ifs:
                if _gap_op(src, prev, cond, "if"):
                    self.add(
                        "drop-branch",
                        cond,
                        f"dropped the filter `if {src.seg(cond)}`",
                        (src.span(prev)[1], src.span(cond)[1], ""),
                    )
                prev = cond

    # -- calls and subscripts --------------------------------------------------------------------------------
    def call(self, node: ast.Call) -> None:
        src, args = self.src, node.args
        fname = (
            node.func.id
            if isinstance(node.func, ast.Name)
            else (node.func.attr if isinstance(node.func, ast.Attribute) else None)
        )
        if fname in _CALL_SWAP:
            if isinstance(node.func, ast.Name):
                fa, fb = src.span(node.func)
            else:
                fb = src.span(node.func)[1]
                fa = fb - len(fname)
            if src.text[fa:fb] == fname:
                self.add("swap-call", node, f"{fname} -> {_CALL_SWAP[fname]}", (fa, fb, _CALL_SWAP[fname]))
        if isinstance(node.func, ast.Name) and node.func.id == "range" and not node.keywords:
            for arg in args:
                if not isinstance(arg, ast.Starred):
                    self.off_by_one(arg, "range bound")
        if (
            len(args) >= 2
            and not any(isinstance(x, ast.Starred) for x in args)
            and not (isinstance(node.func, ast.Name) and node.func.id in _NO_SWAP)
        ):
            for i in range(len(args) - 1):
                x, y = args[i], args[i + 1]
                if src.seg(x) != src.seg(y):
                    self.add(
                        "swap-args",
                        node,
                        f"arguments {i + 1} and {i + 2} swapped",
                        (*src.span(x), src.seg(y)),
                        (*src.span(y), src.seg(x)),
                    )

    def subscript(self, node: ast.Subscript) -> None:
        idx = node.slice
        if isinstance(idx, ast.Slice):
            for bound in (idx.lower, idx.upper):
                if bound is not None:
                    self.off_by_one(bound, "slice bound")
        elif isinstance(idx, (ast.Name, ast.BinOp)) or (isinstance(idx, ast.Constant) and type(idx.value) is int):
            self.off_by_one(idx, "index")

    # -- statements (whole lines only, so the mutant keeps its layout) --------------------------------------
    def drop_if(self, node: ast.If) -> None:
        src = self.src
        if not (node.body[0].lineno > node.lineno and src.starts_line(node)):
            return
        end_b = src.span(node)[1]
        if not src.line_rest_blank(src.end(node), end_b):
            return
        if node.orelse:
            last = node.body[-1]
            cut_from = src.starts[src.end(last)]
            if src.line_rest_blank(src.end(last), src.span(last)[1]) and cut_from < end_b:
                self.add("drop-branch", node, "dropped the else/elif branch", (cut_from, src.starts[src.end(node)], ""))
        else:
            line_a, line_b = src.starts[node.lineno - 1], src.starts[src.end(node)]
            self.add(
                "drop-branch", node, "dropped an if statement", (line_a, line_b, src.indent(node.lineno) + "pass\n")
            )

    def drop_statement(self, node: ast.AST) -> None:
        """A one-line augmented assignment or call statement in a loop body becomes `pass`."""
        src = self.src
        if (
            isinstance(node, (ast.AugAssign, ast.Expr))
            and id(node) in self.loop_bodies
            and node.end_lineno == node.lineno
            and src.starts_line(node)
            and src.line_rest_blank(node.lineno, src.span(node)[1])
            and not (isinstance(node, ast.Expr) and not isinstance(node.value, ast.Call))
        ):
            self.add(
                "drop-statement",
                node,
                f"dropped `{src.seg(node)}`",
                (src.starts[node.lineno - 1], src.starts[node.lineno], src.indent(node.lineno) + "pass\n"),
            )

    def early_return(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """A function that loops, then returns a value: return after the loop's first iteration instead."""
        src = self.src
        final = node.body[-1]
        loop = next((s for s in node.body if isinstance(s, (ast.For, ast.While))), None)
        if (
            isinstance(final, ast.Return)
            and final.value is not None
            and loop is not None
            and loop.body[0].lineno > loop.lineno
            and src.starts_line(loop.body[0])
        ):
            last = loop.body[-1]
            if src.line_rest_blank(src.end(last), src.span(last)[1]):
                at = src.starts[src.end(last)]
                self.add(
                    "early-return",
                    loop,
                    "returns after the first loop iteration",
                    (at, at, src.indent(loop.body[0].lineno) + src.seg(final) + "\n"),
                )


def apply(source: str, mutation: Mutation) -> str:
    for a, b, new in sorted(mutation.edits, key=lambda e: e[0], reverse=True):
        source = source[:a] + new + source[b:]
    return source


def mutants(source: str, n: int, rng: random.Random) -> list[tuple[str, Mutation]]:
    """Up to `n` distinct valid mutants, spread over the kinds found (each kind in turn, in a seeded order)."""
    try:
        reference = ast.dump(ast.parse(source))
    except SyntaxError:
        return []
    by_kind: dict[str, list[Mutation]] = {}
    for m in find_mutations(source):
        by_kind.setdefault(m.kind, []).append(m)
    for group in by_kind.values():
        rng.shuffle(group)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    chosen: list[tuple[str, Mutation]] = []
    seen: set[str] = set()
    while len(chosen) < n and any(by_kind.values()):
        for kind in kinds:
            if len(chosen) >= n or not by_kind[kind]:
                continue
            m = by_kind[kind].pop()
            code = apply(source, m)
            try:
                compile(code, "<mutant>", "exec")
                dump = ast.dump(ast.parse(code))
            except (SyntaxError, ValueError):
                continue
            if dump == reference or dump in seen:
                continue
            seen.add(dump)
            chosen.append((code, m))
    return chosen


def references(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for c in candidates_of(record)
        if isinstance(c, dict)
        and isinstance(c.get("code"), str)
        and isinstance(c.get("origin"), dict)
        and c["origin"].get("backend") == "reference"
    ]


@dataclass
class MutateOptions(Options):
    """The mutate backend's options (`-O KEY=VALUE`; --seed sets the one)."""

    seed: int = 0  # its mutants are drawn at random; a request's own seed wins


class MutateBackend(Backend):
    """`n` mutants per problem, spread over its reference candidates (origin backend "reference")."""

    name = "mutate"
    model = None
    tokenizer = None
    model_free = True
    Options = MutateOptions

    def __init__(self, model: str | None = None, options: MutateOptions | None = None):
        self.seed = int((options or MutateOptions()).seed)

    def chat(self, conversations, params, enable_thinking=True):
        raise CrlError("the mutate backend makes candidates from reference solutions, not from prompts")

    complete = chat

    def for_records(self, records: list[dict[str, Any]], params: SamplingParams) -> list[list[Completion]]:
        seed = self.seed if params.seed is None else params.seed
        results = []
        for rec in records:
            refs = references(rec)
            pools = [mutants(r["code"], params.n, random.Random(f"{seed}:{rec.get('id')}:{r.get('id')}")) for r in refs]
            picked: list[Completion] = []
            # Round robin over the references so each contributes; the pools are already in seeded order.
            while len(picked) < params.n and any(pools):
                for ref, pool in zip(refs, pools):
                    if pool and len(picked) < params.n:
                        code, m = pool.pop(0)
                        meta = {
                            "code": code,
                            "parent": ref.get("id"),
                            "mutation": m.kind,
                            "detail": m.detail,
                            "seed": seed,
                        }
                        picked.append(Completion(text=code, tokens=0, finish_reason="stop", meta=meta))
            results.append(picked)
        return results
