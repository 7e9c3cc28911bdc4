"""The pages and the ClinicalTrials.gov export stay byte for byte what they were when the study model came in.

Why golden files: the pages, the JSON-LD, the cohort list and dosing lines of
the export moved from their own SPARQL readers onto the study model
(:mod:`acse_kg.model`); a refactor that changes what a reader sees is a
regression, and only a byte comparison catches a changed space or order.
The golden files were written by the code before that move
(``python tests/test_pages_golden.py`` writes them again: do it only for a
change you mean, in its own commit that says what changed and why).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import NCT, SHARED  # noqa: E402

from acse_kg.ctgov.export import export_study  # noqa: E402
from acse_kg.ctgov.import_ import import_study  # noqa: E402
from acse_kg.model import read_study  # noqa: E402
from acse_kg.pages import cohort_page, study_page, write_site  # noqa: E402
from acse_kg.store import GraphStore, open_store  # noqa: E402

GOLDEN = HERE / "data" / "golden"
IMPORTED = sorted((SHARED / "reference" / "ctgov").glob("example_v2_*.json"))


def _json(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def rendered(store: GraphStore, nct: str, site: Path) -> dict[str, str]:
    """Every output of one study, by the golden file's path relative to its folder."""
    out = {
        "study.html": study_page(store, nct),
        "ctgov.json": _json(export_study(store, nct, full_text=True)),
        "ctgov-pages.json": _json(export_study(store, nct)),
    }
    for c in read_study(store, nct).cohorts:
        out[f"cohort-{c.number}.html"] = cohort_page(store, nct, c.number)
    for path in write_site(store, [nct], site):
        rel = path.relative_to(site)
        if rel.parts[0] != "static":  # assets are copied, not rendered
            out["site/" + rel.as_posix()] = path.read_text(encoding="utf-8")
    return out


def imported_store(path: Path) -> tuple[GraphStore, str]:
    store = open_store("memory")
    record = json.loads(path.read_text(encoding="utf-8"))
    import_study(store, record)
    return store, record["protocolSection"]["identificationModule"]["nctId"]


def _compare(got: dict[str, str], folder: Path) -> None:
    expected = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(got) == expected
    for name, text in got.items():
        assert text == (folder / name).read_text(encoding="utf-8"), f"{folder.name}/{name} differs from its golden file"


def test_the_bundled_study_renders_byte_for_byte_as_its_golden_files(store, tmp_path):
    _compare(rendered(store, NCT, tmp_path), GOLDEN / NCT)


@pytest.mark.parametrize("path", IMPORTED, ids=lambda p: p.stem)
def test_an_imported_study_renders_byte_for_byte_as_its_golden_files(path, tmp_path):
    store, nct = imported_store(path)
    _compare(rendered(store, nct, tmp_path), GOLDEN / nct)


def write_goldens() -> None:  # pragma: no cover - run by hand
    import shutil
    import tempfile

    jobs = [(open_store("memory"), NCT)] + [imported_store(p) for p in IMPORTED]
    for store, nct in jobs:
        folder = GOLDEN / nct
        shutil.rmtree(folder, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in rendered(store, nct, Path(tmp)).items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {folder}")


if __name__ == "__main__":  # pragma: no cover
    write_goldens()
