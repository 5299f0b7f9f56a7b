"""Command families, one module each; `load_all()` (called by node.boot) registers them all."""

from __future__ import annotations

import importlib
import pkgutil

from node._native import activate

activate(__path__, "node/commands")


def load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
