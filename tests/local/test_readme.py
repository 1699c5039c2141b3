"""README "Your first process": its commands, verbatim, in a copy of the repository, offline.

The copy holds the repository's tracked files, the shared `.venv` and `node_modules`, and an
`aios` on the PATH that is what `make setup` installs (`python -m local.cli`). Every line of the
section's first shell block runs as written, except `npx cdk deploy`, which needs an AWS
account: the test checks it is the only line left out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Your first process"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTION) :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "no shell block in the section"
    lines = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def repository_copy(target: Path) -> Path:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    for name in filter(None, tracked.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for shared in (".venv", "node_modules"):
        (target / shared).symlink_to((ROOT / shared).resolve())
    return target


def test_your_first_process_commands_run_verbatim(tmp_path: Path) -> None:
    commands = readme_commands()
    assert commands[0].startswith("aios new process ")
    skipped = [c for c in commands if c.startswith("npx cdk deploy")]
    assert skipped == ["npx cdk deploy"], commands
    repo = repository_copy(tmp_path / "repo")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "aios"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m local.cli "$@"\n')
    shim.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIOS_", "PYTEST_"))},
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    }
    for command in commands:
        if command in skipped:
            continue
        proc = subprocess.run(
            command,
            shell=True,
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, (
            f"{command!r} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        if command.startswith("aios demo"):
            assert "demo succeeded" in proc.stdout
        if command.startswith("aios eval"):
            assert "PASS: overall agreement 100.0%" in proc.stdout
        if command == "aios validate":
            assert "process leave-request v1: 1 capabilities, 2 prompts, 1 examples" in proc.stdout
    assert (repo / "processes" / "leave-request" / "process.yaml").is_file()
