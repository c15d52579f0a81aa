"""Committed generated files equal what their generators write now.

Each generator runs into a temporary directory in its own interpreter, exactly as a developer
would run it, and the result is compared file by file with the committed copy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

GENERATED = [
    pytest.param("gen_completions.py", ROOT / "completions", id="completions"),
    pytest.param("gen_man.py", ROOT / "lgr" / "man" / "man1", id="man"),
    pytest.param("gen_proto.py", ROOT / "lgr" / "core" / "_proto", id="proto"),
]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, leaving out Python's bytecode caches."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize(("script", "committed"), GENERATED)
def test_generated_files_are_fresh(script: str, committed: Path, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), str(tmp_path)],
        cwd=ROOT, check=True, capture_output=True, timeout=60,
    )
    fresh, current = snapshot(tmp_path), snapshot(committed)
    problems = [f"missing: {name}" for name in sorted(fresh.keys() - current.keys())]
    problems += [f"not generated any more: {name}" for name in sorted(current.keys() - fresh.keys())]
    problems += [
        f"stale: {name}" for name in sorted(fresh.keys() & current.keys()) if fresh[name] != current[name]
    ]
    rel = committed.relative_to(ROOT)
    assert not problems, (
        f"{rel}/ is out of date with the code; run scripts/{script} "
        f"(or scripts/regen_all.py) and commit the result:\n  " + "\n  ".join(problems)
    )
