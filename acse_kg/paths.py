"""Where the project's bundled files live.

The ontology, shapes, vocabularies, records and example queries (the *bundle*)
are plain, reviewable files at the top of the repository, beside the package
rather than inside it. A built wheel has no repository around it, so the build
(setup.py) copies the bundle into the package as ``acse_kg/bundle/``. This
module is the one place that knows both layouts: the installed copy first,
else the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The package's own folder (templates and static assets live inside it in both layouts).
PACKAGE_DIR = Path(__file__).resolve().parent

#: The folder that holds the package: the checkout when it runs from source (tests and
#: developer tools read ``tests/`` and ``bench/`` from there); site-packages when installed.
ROOT = PACKAGE_DIR.parent

#: The bundle a built wheel carries (setup.py puts it there).
INSTALLED_BUNDLE = PACKAGE_DIR / "bundle"


def _bundle_root() -> Path:
    """The installed bundle when the package holds one, else the checkout around the package."""
    return INSTALLED_BUNDLE if (INSTALLED_BUNDLE / "ontology").is_dir() else ROOT


#: Where the bundle was found.
BUNDLE_ROOT = _bundle_root()

#: Whether the package runs from an installed wheel (its bundle inside it), not from a checkout.
INSTALLED = BUNDLE_ROOT == INSTALLED_BUNDLE

ONTOLOGY_DIR = BUNDLE_ROOT / "ontology"
SHAPES_DIR = BUNDLE_ROOT / "shapes"
DATA_DIR = BUNDLE_ROOT / "data"
VOCAB_DIR = BUNDLE_ROOT / "vocab"
QUERIES_DIR = BUNDLE_ROOT / "queries"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"


def _home() -> Path:
    """Where the registry keeps its own files (the default store): ``ACSE_KG_HOME`` when set;
    else ``var/`` in the checkout; else, installed (site-packages is no place to write), the
    user's data folder (``$XDG_DATA_HOME/acse-kg``, by default ``~/.local/share/acse-kg``)."""
    if home := os.environ.get("ACSE_KG_HOME"):
        return Path(home)
    if not INSTALLED:
        return ROOT / "var"
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "acse-kg"


def remote_index_dir() -> Path:
    """Where the search index files of remote stores live (``<home>/search/``, one per endpoint; see
    :func:`acse_kg.search_index.index_path`): read on each call, so ``ACSE_KG_HOME`` set after import counts."""
    return _home() / "search"


def cache_dir(name: str) -> Path | None:
    """A folder for what the registry makes once and can always make again (``<home>/cache/<name>``:
    pint's parsed units, HermiT's compiled helper), created; None when it cannot be written, and the
    caller then makes its thing each time."""
    folder = _home() / "cache" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


#: The default persistent store, unless --store or ACSE_KG_STORE says otherwise.
DEFAULT_STORE = _home() / "store"
