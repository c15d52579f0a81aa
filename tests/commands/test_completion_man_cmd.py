"""`lgr completion install` and `lgr man` as a user runs them: real processes, a private HOME."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lgr.core.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]
WHERE = {"bash": ".local/share/bash-completion/completions/lgr",
         "zsh": ".local/share/zsh/site-functions/_lgr", "fish": ".config/fish/completions/lgr.fish"}


def lgr(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "LGR_"))}
    return subprocess.run([sys.executable, "-m", "lgr", *args], capture_output=True, text=True,
                          timeout=60, env={**base, "HOME": str(home), **env})


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_install_writes_the_script_where_the_shell_looks_once(tmp_path, shell):
    target = tmp_path / WHERE[shell]
    shown = lgr("completion", "install", shell, "--print", home=tmp_path)
    assert (shown.returncode, shown.stdout.strip()) == (0, str(target))
    assert not target.exists(), "--print installs nothing"
    first = lgr("completion", "install", home=tmp_path, SHELL=f"/usr/bin/{shell}")
    assert first.returncode == 0, first.stderr
    assert f"installed {shell} completion {target}" in first.stderr
    assert target.read_text() == lgr("completion", shell, home=tmp_path).stdout
    again = lgr("completion", "install", shell, home=tmp_path)
    assert again.returncode == 0 and f"already up to date: {shell} completion {target}" in again.stderr


def test_install_follows_xdg_dirs(tmp_path):
    proc = lgr("completion", "install", "fish", "--print", home=tmp_path, XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    assert proc.stdout.strip() == str(tmp_path / "cfg" / "fish" / "completions" / "lgr.fish")


def test_install_without_a_known_shell_asks_for_one(tmp_path):
    proc = lgr("completion", "install", home=tmp_path, SHELL="/bin/tcsh")
    assert proc.returncode == ExitCode.USAGE
    assert "cannot tell your shell" in proc.stderr and "lgr completion install bash|zsh|fish" in proc.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_installed_bash_script_completes_in_bash(tmp_path):
    assert lgr("completion", "install", "bash", home=tmp_path).returncode == 0
    script = tmp_path / WHERE["bash"]
    # What bash-completion does at TAB: source the file, call its function with the words.
    probe = f'source {script}; COMP_WORDS=(lgr ta); COMP_CWORD=1; _lgr_completion lgr; echo "${{COMPREPLY[@]}}"'
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    proc = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": path})
    assert proc.stdout.split() == ["tail"], (proc.stdout, proc.stderr)


def test_man_prints_a_commands_page_and_names_the_pages_when_none_matches(tmp_path):
    page = lgr("man", "agent", "start", home=tmp_path)
    assert page.returncode == 0
    assert '.TH "LGR\\-AGENT\\-START" "1"' in page.stdout and "AGENT_PORT" in page.stdout
    assert '.TH "LGR" "1"' in lgr("man", home=tmp_path).stdout
    missing = lgr("man", "nope", home=tmp_path)
    assert missing.returncode == ExitCode.USAGE
    assert "no man page for `lgr nope`" in missing.stderr and "agent start" in missing.stderr


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man")
def test_man_lgr_works_with_the_manpath_lgr_man_prints(tmp_path):
    manpath = lgr("man", "--path", home=tmp_path).stdout.strip()
    assert (Path(manpath) / "man1" / "lgr.1").is_file()
    proc = subprocess.run(["man", "-P", "cat", "lgr-tail"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MANPATH": f"{manpath}:", "MANWIDTH": "100"})
    assert proc.returncode == 0, proc.stderr
    assert "--no-headers" in proc.stdout.replace("\u2010", "-")


def test_the_wheel_ships_the_man_pages(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300,
                   cwd=tmp_path)
    (wheel,) = tmp_path.glob("lgr-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    pages = sorted(p.name for p in (ROOT / "lgr" / "man" / "man1").glob("*.1"))
    assert pages and all(f"lgr/man/man1/{name}" in names for name in pages)
