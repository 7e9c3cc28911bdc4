"""OWL reasoning over the live graph: HermiT, through owlready2.

Why: the ontology makes claims SPARQL alone does not check (disjoint classes,
domains and ranges, the OncoTree hierarchy under acse:TumourType). Running a
complete OWL 2 DL reasoner over ontology + vocabularies + records tells us the
graph as a whole is consistent and that no class has become unsatisfiable.

How: the live named graphs are exported as N-Triples into a fresh owlready2
``World`` (history graphs are left out: they are past versions, not claims
about the present), and HermiT classifies it. HermiT implements only the OWL 2
datatype map, which lacks ``xsd:date`` and ``xsd:gYearMonth`` that study dates
use; it is run with ``--ignoreUnsupportedDatatypes`` so that such values are
treated as opaque instead of aborting the run. ``owl:imports`` statements are
dropped before loading: everything they name is already in the store, and
owlready2 would otherwise try to download it.
"""

from __future__ import annotations

import io
import shutil
import time
from dataclasses import dataclass, field

import pyoxigraph as ox

from .errors import AcseError
from .store import GraphStore

INPUT_IRI = "https://w3id.org/acse-kg/reasoning-input"
OWL_IMPORTS = "http://www.w3.org/2002/07/owl#imports"


class ReasonerError(AcseError, RuntimeError):
    """The reasoner could not run (no Java, or HermiT failed); the message says why."""


@dataclass
class ReasoningReport:
    """What HermiT concluded about one graph."""

    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    triples: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.consistent and not self.unsatisfiable

    def summary(self) -> str:
        """Human-readable lines for the CLI."""
        head = "consistent" if self.consistent else "INCONSISTENT"
        lines = [f"{head}: HermiT over {self.triples} triples in {self.seconds:.1f} s"]
        if self.consistent:
            lines.append(f"unsatisfiable classes: {len(self.unsatisfiable)}")
            lines += [f"  {iri}" for iri in self.unsatisfiable]
        return "\n".join(lines)


def find_java() -> str:
    """The java executable HermiT needs, or a ReasonerError saying how to get one."""
    java = shutil.which("java")
    if java is None:
        raise ReasonerError(
            "Java is needed for the HermiT reasoner but 'java' is not on PATH; "
            "install it (Debian: apt-get install default-jre-headless) or run scripts/test"
        )
    return java


def without_imports(data: bytes) -> bytes:
    """Drop owl:imports: the store already holds what they name, and owlready2 would fetch them over the network."""
    if OWL_IMPORTS.encode() not in data:
        return data
    try:
        triples = [t for t in ox.parse(data, format=ox.RdfFormat.N_TRIPLES) if t.predicate.value != OWL_IMPORTS]
    except SyntaxError as exc:
        raise ReasonerError(f"the graph is not valid N-Triples: {exc}") from exc
    out = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    assert out is not None  # with no output file given, serialize returns the bytes
    return out


def reason_ntriples(data: bytes) -> ReasoningReport:
    """Run HermiT over an N-Triples document; report consistency and unsatisfiable classes."""
    import owlready2

    data = without_imports(data)

    owlready2.JAVA_EXE = find_java()
    started = time.perf_counter()
    world = owlready2.World()
    try:
        try:
            world.get_ontology(INPUT_IRI).load(fileobj=io.BytesIO(data), format="ntriples")
        except Exception as exc:  # owlready2 raises bare exceptions on bad input
            raise ReasonerError(f"owlready2 could not read the graph: {exc}") from exc
        triples = data.count(b"\n")
        try:
            owlready2.sync_reasoner_hermit(
                world, infer_property_values=False, debug=0, ignore_unsupported_datatypes=True
            )
        except owlready2.OwlReadyInconsistentOntologyError:
            return ReasoningReport(False, [], triples, time.perf_counter() - started)
        except owlready2.OwlReadyJavaError as exc:
            raise ReasonerError(f"HermiT failed: {str(exc).strip()[:2000]}") from exc
        unsat = sorted(
            c.iri for c in world.inconsistent_classes() if getattr(c, "iri", None) and c.iri != str(owlready2.Nothing.iri)
        )
        return ReasoningReport(True, unsat, triples, time.perf_counter() - started)
    finally:
        world.close()


def reason_store(store: GraphStore) -> ReasoningReport:
    """Reason over the store's live graph (ontology, vocabularies, records; no history)."""
    return reason_ntriples(store.dump("ntriples", include_history=False))
