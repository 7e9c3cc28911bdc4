"""Where the project's bundled files live.

The ontology, shapes, vocabularies and records ship beside the package (not
inside it) so that they are plain, reviewable files in the repository; this
module is the one place that knows the layout.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY_DIR = ROOT / "ontology"
SHAPES_DIR = ROOT / "shapes"
DATA_DIR = ROOT / "data"
VOCAB_DIR = ROOT / "vocab"
QUERIES_DIR = ROOT / "queries"
TEMPLATES_DIR = ROOT / "acse_kg" / "templates"
STATIC_DIR = ROOT / "acse_kg" / "static"

#: The default persistent store, unless --store or ACSE_KG_STORE says otherwise.
DEFAULT_STORE = Path(os.environ.get("ACSE_KG_HOME", ROOT / "var")) / "store"
