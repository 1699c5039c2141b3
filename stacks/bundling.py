"""Builds the dependencies layer from requirements.txt with pip, without Docker.

pip downloads wheels for Lambda's platform (arm64, CPython 3.13) whatever the host is, so the
layer is the same on a laptop and in CI. Docker stays configured only because the bundling API
requires an image; local bundling succeeds or fails loudly, so Docker is never tried.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PYTHON_VERSION = "3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): any of these wheel tags loads.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")


def pip_arguments(python: str, requirements: str, target: str) -> list[str]:
    """The pip command line that installs ``requirements`` for Lambda arm64 into ``target``."""
    args = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
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
        return True


def dependencies_layer_code(requirements: Path) -> lambda_.Code:
    """Layer code built from ``requirements``; rebuilt only when the file or pip flags change."""
    fingerprint = hashlib.sha256(requirements.read_bytes())
    fingerprint.update(" ".join((*PLATFORMS, PYTHON_VERSION)).encode())
    return lambda_.Code.from_asset(
        str(requirements.parent),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=fingerprint.hexdigest(),
        bundling=BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            command=pip_arguments("python", requirements.name, "/asset-output/python"),
            local=PipLocalBundling(requirements),
        ),
    )
