"""Size of the three layers as Lambda receives them: the `aios` library, the dependencies
bundled for arm64 (pip --platform manylinux2014_aarch64, no Docker) and the `user` layer (the
workspace's processes and capabilities, staged as the synth stages them), unzipped and zipped.

    .venv/bin/python bench/layer_size.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_UNZIPPED = 250 * 1024 * 1024


def tree_size(path: Path) -> int:
    return sum(
        p.stat().st_size for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )


def zipped_size(path: Path, work: Path) -> int:
    return Path(shutil.make_archive(str(work / path.name), "zip", path)).stat().st_size


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        deps = work / "deps"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(ROOT / "requirements.txt"),
                "-t",
                str(deps / "python"),
                "--platform",
                "manylinux2014_aarch64",
                "--only-binary=:all:",
                "--python-version",
                "3.13",
                "--implementation",
                "cp",
            ],
            check=True,
        )
        aios = work / "aios"
        shutil.copytree(
            ROOT / "layers" / "aios", aios, ignore=shutil.ignore_patterns("__pycache__")
        )
        sys.path.insert(0, str(ROOT))
        from stacks.workspace import read_workspace, stage_user_layer

        user = stage_user_layer(read_workspace(), work / "user")
        total = 0
        for name, path in (("aios", aios), ("dependencies", deps), ("user", user)):
            size = tree_size(path)
            total += size
            print(
                f"{name:<13} {size / 1e6:8.2f} MB unzipped {zipped_size(path, work) / 1e6:8.2f} MB zipped"
            )
        print(
            f"{'total':<13} {total / 1e6:8.2f} MB unzipped ({total / LIMIT_UNZIPPED:.1%} of Lambda's 250 MB)"
        )


if __name__ == "__main__":
    main()
