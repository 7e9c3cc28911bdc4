"""Registries of many structured trials for benchmarks and tests: copies of real studies, varied.

Why copies of real records: a synthetic trial should have what real ones have
— 23 cohorts with conditional lab thresholds, rule cohorts with variant-level
tests, regimens, statuses — so that matching at 1,000 trials costs what it
would cost on real data. Each copy gets a new NCT number (``NCT9…``, outside
the range ClinicalTrials.gov has issued), its IRIs moved under it, and varied
where a registry's trials differ: the cohorts' pathologies (drawn from the
OncoTree classes of the store), their target genes (drawn from a pool of
commonly altered cancer genes) and the study's recruitment status. Seeded:
the same arguments give the same registry.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import rdflib
from rdflib import Literal, URIRef

from .loader import study_graph_name
from .namespaces import ACSE, ID
from .store import GraphStore

#: Genes often altered in solid tumours and lymphomas (HGNC approved symbols).
GENE_POOL = (
    "ALK", "MET", "ROS1", "MST1R", "AXL", "EGFR", "ERBB2", "ERBB3", "BRAF", "KRAS", "NRAS", "HRAS", "PIK3CA",
    "PTEN", "AKT1", "MTOR", "FGFR1", "FGFR2", "FGFR3", "FGFR4", "NTRK1", "NTRK2", "NTRK3", "RET", "KIT",
    "PDGFRA", "PDGFRB", "IDH1", "IDH2", "BRCA1", "BRCA2", "ATM", "CDK4", "CDK6", "CDKN2A", "CCND1", "MYC",
    "MDM2", "TP53", "SMO", "PTCH1", "NF1", "NF2", "TSC1", "TSC2", "ESR1", "AR", "KDR", "FLT3", "JAK2",
)
STATUSES = (ACSE.Recruiting, ACSE.ActiveNotRecruiting, ACSE.Recruiting, ACSE.Completed)


def synthetic_nct(i: int) -> str:
    """The i-th synthetic NCT number (NCT90000001, ...)."""
    return f"NCT9{i:07d}"


def pathology_pool(store: GraphStore) -> list[str]:
    """OncoTree classes of levels 1 to 3 (tissue, main types and their first subtypes), by IRI."""
    rows = store.select("SELECT ?c WHERE { ?c acse:oncotreeLevel ?l FILTER(?l >= 1 && ?l <= 3) }")
    return sorted(str(r["c"]) for r in rows)


def vary(source: rdflib.Graph, src_nct: str, new_nct: str, rng: random.Random,
         pathologies: Sequence[str], genes: Sequence[str] = GENE_POOL) -> rdflib.Graph:
    """A copy of a study's record graph under a new NCT number, with its cohorts varied.

    The draws are made in the order of the statements' text, not in the order
    the graph yields them: an rdflib graph's iteration order follows Python's
    hash seed, so drawing while iterating gave each process a different
    registry for the same seed (benchmarks compared unlike registries).
    """
    old_base, new_base = f"{ID}study/{src_nct}", f"{ID}study/{new_nct}"
    triples = sorted(source, key=lambda t: (t[0].n3(), t[1].n3(), t[2].n3()))
    drawn: dict[tuple[rdflib.term.Node, rdflib.term.Node, rdflib.term.Node], rdflib.term.Node] = {}
    gene_map: dict[str, URIRef] = {}
    for s, p, o in triples:
        if p == ACSE.pathology:
            drawn[s, p, o] = URIRef(rng.choice(pathologies))
        elif p in (ACSE.targetGene, ACSE.gene, ACSE.targetsGene) and isinstance(o, URIRef):
            if str(o) not in gene_map:
                gene_map[str(o)] = URIRef(f"{ID}gene/{rng.choice(genes)}")
            drawn[s, p, o] = gene_map[str(o)]
        elif p == ACSE.overallStatus:
            drawn[s, p, o] = rng.choice(STATUSES)

    def move(t: rdflib.term.Node) -> rdflib.term.Node:
        if isinstance(t, URIRef) and str(t).startswith(old_base):
            return URIRef(new_base + str(t)[len(old_base):])
        return t

    out = rdflib.Graph()
    for s, p, o in triples:
        o2 = Literal(new_nct) if p == ACSE.nctId else drawn.get((s, p, o), move(o))
        out.add((move(s), p, o2))
    return out


def add_copies(store: GraphStore, n: int, sources: Sequence[str], *, seed: int = 20261201,
               first: int = 1) -> list[str]:
    """Write ``n`` varied copies of the ``sources`` studies into the store; return their NCT numbers.

    Each copy is one graph replaced in the store (no history: a copy is
    synthetic, not a version of anything). ``first``: the number of the first copy, to add
    copies to a registry that has some (its draws seeded apart from those of copy 1 on).
    """
    rng = random.Random(seed if first == 1 else f"{seed}-{first}")
    paths = pathology_pool(store)
    graphs = {nct: store.graph(study_graph_name(nct)) for nct in sources}
    made = []
    for i in range(first, first + n):
        src = sources[(i - 1) % len(sources)]
        nct = synthetic_nct(i)
        g = vary(graphs[src], src, nct, rng, paths)
        store.replace_graph(study_graph_name(nct), g.serialize(format="nt"), "ntriples")
        made.append(nct)
    return made
