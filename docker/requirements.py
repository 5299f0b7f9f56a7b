"""Write the image's requirement files from pyproject.toml.

    python3 docker/requirements.py <pyproject.toml> <directory>

runtime.txt: the project's dependencies and its `drill` extra (installed in the image).
build.txt: the build backend and the `compile` extra (mypyc), used only while building.
scripts/cluster builds the host wheelhouse from them; the Dockerfile, given no
wheelhouse, installs the same lists from the package index.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: dict) -> tuple[list[str], list[str]]:
    project = pyproject["project"]
    extras = project.get("optional-dependencies", {})
    runtime = [*project.get("dependencies", []), *extras.get("drill", [])]
    build = [*pyproject["build-system"]["requires"], "wheel", *extras.get("compile", [])]
    return runtime, build


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    runtime, build = requirements(tomllib.loads(Path(argv[1]).read_text()))
    out = Path(argv[2])
    (out / "runtime.txt").write_text("".join(r + "\n" for r in runtime))
    (out / "build.txt").write_text("".join(r + "\n" for r in build))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
