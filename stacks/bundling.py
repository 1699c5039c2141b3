"""Builds the layers without Docker: the dependencies with pip, and bytecode for Lambda's Python.

pip downloads wheels for Lambda's platform (arm64, CPython 3.13) whatever the host is, so the
layer is the same on a laptop and in CI. Docker stays configured only because the bundling API
requires an image; local bundling succeeds or fails loudly, so Docker is never tried.

Bytecode: a layer is read-only on Lambda, so a module shipped without a `.pyc` for the
runtime's Python is compiled again at every cold start. The domain and dependencies layers are
compiled with a CPython 3.13 interpreter (`compileall`, optimisation level 0) into
`__pycache__/*.cpython-313.pyc`. The `.pyc` files are hash-based and unchecked: asset zips
carry fixed timestamps (not the files' own), so a timestamp-based `.pyc` would never match its
source and be ignored; a layer version never changes, so its bytecode needs no check. pip's own
`.pyc` files (compiled for the host's Python) are not written. Without a 3.13 interpreter
(`AIOS_LAYER_PYTHON`, `python3.13` on PATH, or pyenv's 3.13) the layers ship sources only and
the synth says so.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PYTHON_VERSION = "3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): any of these wheel tags loads.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")


def compile_arguments(python: str, folder: str, shown_as: str) -> list[str]:
    """compileall for Lambda: hash-based unchecked `.pyc` files, tracebacks naming `shown_as`."""
    return [
        python,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-d",
        shown_as,
        folder,
    ]


@cache
def lambda_python() -> str | None:
    """A CPython interpreter of Lambda's version on this machine, or None."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        os.environ.get("AIOS_LAYER_PYTHON", ""),
        shutil.which(f"python{PYTHON_VERSION}") or "",
        *sorted(glob.glob(f"{root}/versions/{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}")),
    ]
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run(  # noqa: S603
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if done.returncode == 0 and done.stdout.strip() == PYTHON_VERSION:
            return candidate
    return None


def compile_layer(folder: Path) -> bool:
    """Compile `folder` (a layer's `python/`) for Lambda's Python; False (and a note) when no
    such interpreter is found: the layer then ships sources only."""
    python = lambda_python()
    if python is None:
        print(
            f"aios: no Python {PYTHON_VERSION} found (set AIOS_LAYER_PYTHON): {folder.parent.name}"
            " ships without bytecode, Lambda compiles it at each cold start",
            file=sys.stderr,
        )
        return False
    subprocess.run(compile_arguments(python, str(folder), "/opt/python"), check=True)  # noqa: S603
    return True


def pip_arguments(python: str, requirements: str, target: str) -> list[str]:
    """The pip command line that installs ``requirements`` for Lambda arm64 into ``target``."""
    args = [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
    ]
    args += ["-r", requirements, "-t", target]
    for platform in PLATFORMS:
        args += ["--platform", platform]
    args += ["--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp"]
    return args


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Installs the requirements into ``<output_dir>/python`` with the host's pip."""

    def __init__(self, requirements: Path) -> None:
        self._requirements = requirements

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        target = Path(output_dir) / "python"
        command = pip_arguments(sys.executable, str(self._requirements), str(target))
        subprocess.run(command, check=True)  # noqa: S603
        compile_layer(target)
        return True


@jsii.implements(ILocalBundling)
class CompiledCopyBundling:
    """Copies a layer folder (no caches) and compiles its `python/` for Lambda's Python."""

    def __init__(self, source: Path) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        shutil.copytree(
            self._source,
            output_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        compile_layer(Path(output_dir) / "python")
        return True


def compiled_layer_code(source: Path) -> lambda_.Code:
    """Layer code from `source` (a folder holding `python/`), with Lambda-ready bytecode.

    Staged at synth time (not through CDK bundling, which the emulation and the infra tests
    skip): the staged copy is what gets deployed, and what the tests look at."""
    staged = Path(tempfile.mkdtemp(prefix="aios-layer-"))
    CompiledCopyBundling(source).try_bundle(str(staged))
    return lambda_.Code.from_asset(str(staged))


def dependencies_layer_code(requirements: Path) -> lambda_.Code:
    """Layer code built from ``requirements``; rebuilt only when the file or pip flags change."""
    fingerprint = hashlib.sha256(requirements.read_bytes())
    fingerprint.update(" ".join((*PLATFORMS, PYTHON_VERSION, "unchecked-hash")).encode())
    return lambda_.Code.from_asset(
        str(requirements.parent),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=fingerprint.hexdigest(),
        bundling=BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            command=[
                "bash",
                "-c",
                " ".join(pip_arguments("python", requirements.name, "/asset-output/python"))
                + " && "
                + " ".join(compile_arguments("python", "/asset-output/python", "/opt/python")),
            ],
            local=PipLocalBundling(requirements),
        ),
    )
