"""lgr.core never imports the UI libraries (typer, its vendored click, rich, textual).

Two checks: every module under lgr/core is imported in a fresh interpreter and none of them may
appear in sys.modules afterwards; and every import statement under lgr/core, including ones
inside functions that the first check would not run, is read from the source.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "lgr" / "core"
FORBIDDEN = ("typer", "click", "rich", "textual")


def core_modules() -> list[str]:
    """Dotted names of every module under lgr/core.

    Walks files rather than pkgutil, which skips directories without __init__.py (the generated
    lgr/core/_proto/loggregator is one) and everything under them.
    """
    names = []
    for path in sorted(CORE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(CORE.parent.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def is_forbidden(module: str) -> bool:
    return module.split(".")[0] in FORBIDDEN


def _is_dynamic_import(node: ast.AST) -> bool:
    """``importlib.import_module("x")`` or ``__import__("x")`` with a literal name."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    first = node.args[0]
    return name in ("import_module", "__import__") and isinstance(first, ast.Constant) and (
        isinstance(first.value, str)
    )


def test_importing_core_loads_no_ui_library() -> None:
    modules = core_modules()
    assert "lgr.core.errors" in modules
    # Each module is charged with the UI modules that first appeared while importing it.
    script = f"""
import importlib, json, sys
def ui():
    return {{m.split(".")[0] for m in sys.modules if m.split(".")[0] in {set(FORBIDDEN)!r}}}
failed, loaded = {{}}, {{}}
for name in {modules!r}:
    before = ui()
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{{type(exc).__name__}}: {{exc}}"
    if ui() - before:
        loaded[name] = sorted(ui() - before)
print(json.dumps({{"failed": failed, "loaded": loaded}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert not result["failed"], f"lgr.core modules that fail to import: {result['failed']}"
    assert not result["loaded"], f"lgr.core modules that load UI libraries: {result['loaded']}"


def test_no_core_source_imports_a_ui_library() -> None:
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif _is_dynamic_import(node):
                names = [node.args[0].value]
            else:
                continue
            offenders += [
                f"{path.relative_to(CORE.parent.parent)}:{node.lineno} imports {name}"
                for name in names
                if is_forbidden(name)
            ]
    assert not offenders, "lgr/core must not import typer, click, rich or textual:\n" + "\n".join(
        offenders
    )
