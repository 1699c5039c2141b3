"""The dependencies layer is built by pip for Lambda arm64 / CPython 3.13, never by Docker."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stacks.bundling import PipLocalBundling, pip_arguments


def test_pip_installs_wheels_for_lambda_arm64_python313_into_the_layer_folder() -> None:
    args = pip_arguments("python", "requirements.txt", "/out/python")
    joined = " ".join(args)
    assert "-r requirements.txt -t /out/python" in joined
    assert "--platform manylinux2014_aarch64" in joined
    assert "--only-binary=:all:" in args
    assert "--python-version 3.13" in joined
    assert "--implementation cp" in joined
    assert not any("x86_64" in arg for arg in args)


def test_local_bundling_runs_pip_into_python_and_claims_success(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[list[str]] = []

    def fake_run(command: list[str], check: bool) -> None:
        assert check is True
        calls.append(command)

    monkeypatch.setattr(subprocess, "run", fake_run)
    bundled = PipLocalBundling(Path("/repo/requirements.txt")).try_bundle(str(tmp_path))
    assert bundled is True
    (command,) = calls
    assert command[command.index("-t") + 1] == str(tmp_path / "python")
    assert command[command.index("-r") + 1] == "/repo/requirements.txt"


def test_failed_pip_fails_the_synth_instead_of_falling_back_to_docker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def failing_run(command: list[str], check: bool) -> None:
        raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(subprocess.CalledProcessError):
        PipLocalBundling(Path("requirements.txt")).try_bundle(str(tmp_path))
