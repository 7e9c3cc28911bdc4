"""HermiT on an OWL functional-syntax document: classify classes and instances, read the taxonomy back.

Why the command line and not owlready2's wrapper: the wrapper writes the whole
world back into its quadstore and re-reads it, which costs more than the
reasoning for the documents built here; the HermiT command line (the jar
owlready2 ships) takes the document as it is written and prints the direct
subclass relations and the direct types of every individual, which is all the
callers need (memberships are closed upwards here).

The output lines read are ``SubClassOf( <A> <B> )``, ``EquivalentClasses( <A> <B> … )``
and ``Type( <i> <C> )``; a class equivalent to ``owl:Nothing`` is unsatisfiable.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..reasoning import ReasonerError, find_java

NOTHING = "http://www.w3.org/2002/07/owl#Nothing"
THING = "http://www.w3.org/2002/07/owl#Thing"
_LINE = re.compile(r"^(SubClassOf|EquivalentClasses|Type)\(\s*((?:<[^>]+>\s*)+)\)\s*$", re.MULTILINE)
_IRI = re.compile(r"<([^>]+)>")
#: Heap for HermiT; the documents classified here are small, the registry-wide overlaps are not.
JAVA_MEMORY_MB = int(os.environ.get("ACSE_KG_HERMIT_MB", "2000"))


def _classpath() -> str:
    import owlready2

    here = Path(owlready2.__file__).parent / "hermit"
    return os.pathsep.join([str(here), str(here / "HermiT.jar")])


@dataclass
class Taxonomy:
    """What HermiT inferred: direct superclasses, equivalence groups and direct types."""

    supers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    equivalents: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    seconds: float = 0.0
    _up: dict[str, frozenset[str]] = field(default_factory=dict)

    def ancestors(self, cls: str) -> frozenset[str]:
        """``cls``, its equivalents and every class above them."""
        got = self._up.get(cls)
        if got is None:
            out: set[str] = set()
            stack = [cls]
            while stack:
                c = stack.pop()
                if c in out:
                    continue
                out.add(c)
                stack.extend(self.equivalents.get(c, ()))
                stack.extend(self.supers.get(c, ()))
            got = self._up[cls] = frozenset(out)
        return got

    def subsumed(self, sub: str, sup: str) -> bool:
        return sup in self.ancestors(sub)

    def unsatisfiable(self, cls: str) -> bool:
        return NOTHING in self.ancestors(cls)

    def members(self, individual: str) -> frozenset[str]:
        """Every named class the individual is inferred to belong to."""
        out: set[str] = set()
        for t in self.types.get(individual, ()):
            out |= self.ancestors(t)
        return frozenset(out)


def parse_output(text: str) -> Taxonomy:
    tax = Taxonomy()
    for kind, iris in _LINE.findall(text):
        names = _IRI.findall(iris)
        if kind == "SubClassOf" and len(names) == 2:
            tax.supers[names[0]].add(names[1])
        elif kind == "EquivalentClasses":
            for a in names:
                tax.equivalents[a].update(n for n in names if n != a)
        elif kind == "Type" and len(names) == 2:
            tax.types[names[0]].add(names[1])
    # HermiT prints each class once, under its equivalence group's representative: owl:Nothing's
    # group is the unsatisfiable classes, and a subclass of Nothing is unsatisfiable too.
    return tax


def run_hermit(document: str, *, instances: bool = False, timeout: float | None = None,
               ignore_unsupported_datatypes: bool = False) -> Taxonomy:
    """Classify a functional-syntax document (and its individuals, with ``instances``)."""
    java = find_java()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="acse-owl-") as tmp:
        src = Path(tmp) / "input.ofn"
        out = Path(tmp) / "output.txt"
        src.write_text(document, encoding="utf-8")
        cmd = [java, f"-Xmx{JAVA_MEMORY_MB}M", "-cp", _classpath(), "org.semanticweb.HermiT.cli.CommandLine",
               "-c", *(["-I"] if instances else []), "-o", str(out), src.as_uri()]
        if ignore_unsupported_datatypes:
            cmd.append("--ignoreUnsupportedDatatypes")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ReasonerError(f"HermiT did not finish within {timeout:g} s") from exc
        if proc.returncode != 0 or not out.exists():
            msg = (proc.stderr or proc.stdout).strip()
            if "InconsistentOntologyException" in msg:
                raise InconsistentOntology("HermiT: the ontology is inconsistent")
            raise ReasonerError(f"HermiT failed: {msg[-2000:]}")
        tax = parse_output(out.read_text(encoding="utf-8"))
    tax.seconds = time.perf_counter() - started
    return tax


def check_consistency(document: str, *, timeout: float | None = None) -> bool:
    """Whether HermiT finds the document consistent (imports it names are loaded too)."""
    java = find_java()
    with tempfile.TemporaryDirectory(prefix="acse-owl-") as tmp:
        src = Path(tmp) / "input.ofn"
        src.write_text(document, encoding="utf-8")
        cmd = [java, f"-Xmx{JAVA_MEMORY_MB}M", "-cp", _classpath(), "org.semanticweb.HermiT.cli.CommandLine",
               "-k", "--ignoreUnsupportedDatatypes", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ReasonerError(f"HermiT did not finish within {timeout:g} s") from exc
    text = proc.stdout + proc.stderr
    if "is satisfiable" in text:
        return True
    if "is not satisfiable" in text or "InconsistentOntologyException" in text:
        return False
    raise ReasonerError(f"HermiT failed: {text.strip()[-2000:]}")


class InconsistentOntology(ReasonerError):
    """HermiT found the document inconsistent (for a profile: facts that contradict each other)."""
