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
    compiled: list[Path] = []
    monkeypatch.setattr("stacks.bundling.compile_layer", compiled.append)
    bundled = PipLocalBundling(Path("/repo/requirements.txt")).try_bundle(str(tmp_path))
    assert bundled is True
    (command,) = calls
    assert command[command.index("-t") + 1] == str(tmp_path / "python")
    assert command[command.index("-r") + 1] == "/repo/requirements.txt"
    assert compiled == [tmp_path / "python"]  # then compiled for Lambda's Python


def test_failed_pip_fails_the_synth_instead_of_falling_back_to_docker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def failing_run(command: list[str], check: bool) -> None:
        raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(subprocess.CalledProcessError):
        PipLocalBundling(Path("requirements.txt")).try_bundle(str(tmp_path))


def test_pip_writes_no_bytecode_for_the_host_python() -> None:
    assert "--no-compile" in pip_arguments("python", "requirements.txt", "/out/python")


def _layer(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    (source / "python" / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "python" / "pkg" / "__init__.py").write_text("")
    (source / "python" / "pkg" / "mod.py").write_text("VALUE = 1\n")
    (source / "python" / "pkg" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"x")
    return source


def test_layer_bytecode_is_for_lambdas_python_and_used_without_checking_timestamps(
    tmp_path: Path,
) -> None:
    from stacks.bundling import PYTHON_VERSION, CompiledCopyBundling, lambda_python

    python = lambda_python()
    if python is None:
        pytest.skip(f"no Python {PYTHON_VERSION} on this machine")
    out = tmp_path / "out"
    assert CompiledCopyBundling(_layer(tmp_path)).try_bundle(str(out)) is True
    cache = out / "python" / "pkg" / "__pycache__"
    assert sorted(p.name for p in cache.iterdir()) == [
        "__init__.cpython-313.pyc",
        "mod.cpython-313.pyc",
    ]
    flags = int.from_bytes((cache / "mod.cpython-313.pyc").read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, source not checked: zip timestamps cannot stale it
    # The source changes after compiling (and gets a new mtime): Lambda's Python still runs the
    # shipped bytecode, without reading the source to check it.
    (out / "python" / "pkg" / "mod.py").write_text("VALUE = 2\n")
    done = subprocess.run(
        [python, "-c", "import pkg.mod; print(pkg.mod.VALUE, pkg.mod.__cached__)"],
        cwd=out / "python",
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split()[0] == "1"


def test_without_lambdas_python_the_layer_ships_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from stacks import bundling

    monkeypatch.setattr(bundling, "lambda_python", lambda: None)
    out = tmp_path / "out"
    assert bundling.CompiledCopyBundling(_layer(tmp_path)).try_bundle(str(out)) is True
    assert (out / "python" / "pkg" / "mod.py").read_text() == "VALUE = 1\n"
    assert not (out / "python" / "pkg" / "__pycache__").exists()
