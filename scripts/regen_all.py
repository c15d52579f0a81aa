#!/usr/bin/env python3
"""Regenerate every generated file: lgr/core/_proto, completions/ and lgr/man/man1/.

Usage: python scripts/regen_all.py   (with the project's venv: .venv/bin/python scripts/regen_all.py)

Runs, in order, scripts/gen_proto.py (protos first: the CLI imports core, which imports them),
scripts/gen_completions.py and scripts/gen_man.py, each in its own interpreter so one
generator's imports cannot leak into the next. Run it after changing proto/, any command's
flags or help, or lgr/core/errors.ExitCode, then commit the result;
tests/test_generated_fresh.py fails until you do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATORS = ("gen_proto.py", "gen_completions.py", "gen_man.py")


def main() -> None:
    for name in GENERATORS:
        subprocess.run([sys.executable, str(ROOT / "scripts" / name)], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
