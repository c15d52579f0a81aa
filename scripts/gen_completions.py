#!/usr/bin/env python3
"""Generate the shell completion scripts in completions/ from the CLI.

Usage: python scripts/gen_completions.py [OUT_DIR]   (default: completions/)

Writes lgr.bash (bash), _lgr (zsh, for a directory on $fpath) and lgr.fish (fish): the same
text `lgr completion SHELL` prints. The scripts ask `lgr` itself for candidates at TAB time, so
they only change when typer's script templates do. tests/test_generated_fresh.py fails when
completions/ differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "completions"
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from lgr.commands.completion import Shell, script  # noqa: E402

FILE_NAMES = {Shell.bash: "lgr.bash", Shell.zsh: "_lgr", Shell.fish: "lgr.fish"}


def generate(out_dir: Path) -> list[Path]:
    """Write one completion script per shell into ``out_dir`` and return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for shell in Shell:
        path = out_dir / FILE_NAMES[shell]
        path.write_text(script(shell))
        written.append(path)
    return written


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    files = generate(out)
    print(f"wrote {len(files)} completion scripts to {out}")


if __name__ == "__main__":
    main()
