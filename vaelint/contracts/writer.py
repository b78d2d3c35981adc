"""Writing proposed annotations (vaelint/contracts/proposals.py) into the source.

With libcst, a concrete syntax tree: only the annotations and one import line
are added; the file's formatting and comments stay as they were. A parameter or
return value that already has an annotation is never changed, except a bare ``Tensor``, which says nothing of the
shape. The imports are
added once (``from jaxtyping import Float``; ``Tensor`` as the file already
has it, ``torch.Tensor`` where it imports torch, else ``from torch import
Tensor``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import libcst as cst

from vaelint.contracts.proposals import Proposal
from vaelint.errors import VaelintError


@dataclass
class Edit:
    path: str
    before: str
    after: str
    added: int  # annotations written

    def diff(self) -> str:
        from vaelint.source.frames import display_path

        shown = display_path(self.path)
        return "".join(
            difflib.unified_diff(self.before.splitlines(keepends=True), self.after.splitlines(keepends=True), f"a/{shown}", f"b/{shown}")
        )


def _tensor_name(module) -> tuple[str, bool]:
    """How the file names torch.Tensor, and whether an import must be added."""
    import libcst as cst
    import libcst.matchers as m

    has_torch = False
    for stmt in module.body:
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
            if m.matches(small, m.ImportFrom(module=m.Name("torch"))) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    if m.matches(alias.name, m.Name("Tensor")) and alias.asname is None:
                        return "Tensor", False
            if isinstance(small, cst.Import):
                for alias in small.names:
                    if m.matches(alias.name, m.Name("torch")) and alias.asname is None:
                        has_torch = True
    return ("torch.Tensor", False) if has_torch else ("Tensor", True)


def _replaceable(annotation) -> bool:
    """No annotation, or a bare ``Tensor`` / ``torch.Tensor`` (no shape in it)."""
    import libcst as cst

    if annotation is None:
        return True
    expr = annotation.annotation
    if isinstance(expr, cst.Name):
        return expr.value == "Tensor"
    return (
        isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "torch" and expr.attr.value == "Tensor"
    )


def apply(path: str, proposals: list[Proposal]) -> Edit:
    """The file with the proposals written in (nothing is written to disk here)."""
    import libcst as cst
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor

    with open(path, encoding="utf-8") as fh:
        before = fh.read()
    try:
        module = cst.parse_module(before)
    except cst.ParserSyntaxError as e:
        raise VaelintError("input", f"{path}: libcst cannot parse this file ({e.message}); no annotations written.") from None
    tensor, import_tensor = _tensor_name(module)
    wanted: dict = {}
    for p in proposals:
        wanted.setdefault(p.function, {})[p.param] = p.text.replace("Tensor,", f"{tensor},")

    transformer = _Annotate(wanted)
    changed = module.visit(transformer)
    if transformer.added:
        context = CodemodContext()
        kinds = sorted({k for p in proposals for k in p.kinds})
        for kind in kinds:
            AddImportsVisitor.add_needed_import(context, "jaxtyping", kind)
        if import_tensor:
            AddImportsVisitor.add_needed_import(context, "torch", "Tensor")
        changed = AddImportsVisitor(context).transform_module(changed)
    return Edit(path, before, changed.code, transformer.added)


def write(edit: Edit) -> None:
    """Write the edited file in place (``--write``: the user asked for it)."""
    with open(edit.path, "w", encoding="utf-8", newline="") as fh:
        fh.write(edit.after)


class _Annotate(cst.CSTTransformer):
    """Writes each wanted annotation (function qualname -> parameter or "return" -> text)
    where the code has none, or only a bare Tensor."""

    def __init__(self, wanted: dict):
        self.wanted = wanted
        self.scope: list[str] = []
        self.added = 0
        self.kinds: set = set()

    def visit_ClassDef(self, node):
        self.scope.append(node.name.value)

    def leave_ClassDef(self, original, updated):
        self.scope.pop()
        return updated

    def visit_FunctionDef(self, node):
        self.scope.append(node.name.value)

    def leave_FunctionDef(self, original, updated):
        qualname = ".".join(self.scope)
        self.scope.pop()
        todo = self.wanted.get(qualname)
        if not todo:
            return updated

        params = updated.params
        params = params.with_changes(
            params=[self._annotated(p, todo) for p in params.params],
            posonly_params=[self._annotated(p, todo) for p in params.posonly_params],
            kwonly_params=[self._annotated(p, todo) for p in params.kwonly_params],
        )
        updated = updated.with_changes(params=params)
        if "return" in todo and _replaceable(updated.returns):
            self.added += 1
            updated = updated.with_changes(returns=cst.Annotation(cst.parse_expression(todo["return"])))
        return updated

    def _annotated(self, param, todo: dict):
        text = todo.get(param.name.value)
        if text is None or not _replaceable(param.annotation):
            return param
        self.added += 1
        return param.with_changes(annotation=cst.Annotation(cst.parse_expression(text)))
