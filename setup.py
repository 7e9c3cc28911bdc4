"""The one build step pyproject.toml cannot declare: the bundle goes into the wheel.

The registry loads its bundle (ontology/, shapes/, data/, vocab/, queries/) at run
time. In the repository those folders stay at the top, as plain files a reviewer
reads beside the code; a built wheel has no repository around it, so ``build_py``
copies them under the package, to ``acse_kg/bundle/``, where ``acse_kg/paths.py``
looks first. Everything else (metadata, dependencies, package data) is in
pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent

#: The folders of the bundle, relative to the repository; kept in step with acse_kg/paths.py
#: (tests/test_wheel.py checks that a built wheel holds every file of each).
BUNDLE = ("ontology", "shapes", "data", "vocab", "queries")

#: Where they go inside the package (acse_kg/paths.py: INSTALLED_BUNDLE).
TARGET = Path("acse_kg") / "bundle"


def bundle_files() -> list[Path]:
    """Every file of the bundle, relative to the repository (no caches, no hidden files)."""
    files: list[Path] = []
    for folder in BUNDLE:
        root = HERE / folder
        if not root.is_dir():
            raise SystemExit(f"cannot build acse-kg: the bundle folder {folder}/ is missing from {HERE}")
        files += sorted(
            p.relative_to(HERE) for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in p.parts)
        )
    return files


class BuildPyWithBundle(build_py):
    """``build_py`` that also copies the bundle into the built package (not in editable mode,
    where the package runs from the checkout and finds the bundle beside it)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for rel in bundle_files():
            target = Path(self.build_lib) / TARGET / rel
            self.mkpath(str(target.parent))
            self.copy_file(str(HERE / rel), str(target), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs += [str(Path(self.build_lib) / TARGET / rel) for rel in bundle_files()]
        return outputs


setup(cmdclass={"build_py": BuildPyWithBundle})
