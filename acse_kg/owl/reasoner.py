"""A HermiT process that answers the few entailment questions asked of it (see ``OwlQueries.java``).

Why a long-lived process: the JVM and the TBox are loaded once per batch, then
each patient (or the bare TBox, for cohort comparisons) gets its own reasoner
and only the memberships, subsumptions and satisfiability tests the caller
needs are decided — not a classification of every class, which HermiT's
command line does first and which takes minutes on a registry's defined classes.

The helper is Java source. With the JDK's ``javac`` it is compiled once into the
registry's cache and started as a class; with the JRE alone (what ``acse-kg reason``
needs) the source launcher compiles it at each start, 2 s of CPU more.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from ..paths import cache_dir
from ..reasoning import ReasonerError, find_java

HELPER = Path(__file__).with_name("OwlQueries.java")
#: Heap for HermiT (ACSE_KG_HERMIT_MB): a patient's reasoner is small, a registry's TBox is not.
JAVA_MEMORY_MB = int(os.environ.get("ACSE_KG_HERMIT_MB", "2000"))


class InconsistentOntology(ReasonerError):
    """HermiT found the assertions inconsistent with the classes (facts that contradict each other)."""


class ReasonerTimeout(ReasonerError, TimeoutError):
    """HermiT did not answer within its time budget; the process was stopped (a 504 on the server).

    A caller that wraps the message raises this class again, so that the server and the
    command line still tell "ran out of time" (retry with a larger budget or a narrower
    question) from "could not run" (no Java, a HermiT error).
    """


def out_of_time(budget: float | None) -> ReasonerTimeout:
    """The one wording of a timeout, naming the budget."""
    return ReasonerTimeout(f"the reasoner's time budget ({budget:g} s) was exceeded: HermiT was stopped"
                           if budget is not None else "the reasoner's time budget was exceeded: HermiT was stopped")


def _classpath() -> str:
    """HermiT and the OWL API: the jar owlready2 ships (the one ``acse-kg reason`` runs)."""
    import owlready2

    here = Path(owlready2.__file__).parent / "hermit"
    return os.pathsep.join([str(here), str(here / "HermiT.jar")])


def _helper_command() -> list[str]:
    """How to start the helper: its class compiled once into the cache when the JDK's ``javac`` is
    there (the source launcher compiles it again at every start: 2 s of CPU of a 2.3 s start, paid
    by every batch, overlap run and test), else the source launcher, which needs the JRE alone."""
    java, classpath = find_java(), _classpath()
    compiled = _compiled_helper(java, classpath)
    if compiled is None:
        return [java, f"-Xmx{JAVA_MEMORY_MB}M", "-cp", classpath, str(HELPER)]
    return [java, f"-Xmx{JAVA_MEMORY_MB}M", "-cp", os.pathsep.join([str(compiled), classpath]), HELPER.stem]


def _javac(java: str) -> str | None:
    """The compiler of the same JDK as ``java`` (beside it once links are resolved): a class made by
    another JDK's newer compiler would not load."""
    javac = Path(os.path.realpath(java)).with_name("javac")
    return str(javac) if os.access(javac, os.X_OK) else None


#: Compilations that failed in this process (by digest): not tried again at every start.
_FAILED: set[str] = set()
_COMPILING = threading.Lock()


def _compiled_helper(java: str, classpath: str) -> Path | None:
    """The folder holding ``OwlQueries.class`` compiled from this source against this classpath by
    this JDK, or None (no ``javac``, no writable cache, a compiler error: the source launcher will say
    what is wrong). Compiled into a folder of its own and renamed into place, so processes compiling at
    once never run a half-written class; threads of one process compile once."""
    javac = _javac(java)
    cache = cache_dir("owl")
    if javac is None or cache is None:
        return None
    key = HELPER.read_bytes() + os.fsencode(javac) + classpath.encode()
    for part in classpath.split(os.pathsep):  # HermiT's jar and classes, as installed now
        with contextlib.suppress(OSError):
            st = os.stat(part)
            key += f"|{st.st_size}:{st.st_mtime_ns}".encode()
    digest = hashlib.sha256(key).hexdigest()[:20]
    target = cache / digest
    with _COMPILING:
        if (target / f"{HELPER.stem}.class").is_file():
            return target
        if digest in _FAILED:
            return None
        work: Path | None = None
        try:
            work = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=cache))
            sources = work / "sources"  # empty: nothing on the classpath (owlready2 ships HermiT's patched sources) is compiled
            sources.mkdir()
            done = subprocess.run([javac, "-implicit:none", "-sourcepath", str(sources), "-cp", classpath,
                                   "-d", str(work / "classes"), str(HELPER)],
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
            if done.returncode == 0:
                with contextlib.suppress(OSError):  # another process put its copy there first: the same class
                    os.rename(work / "classes", target)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
        if (target / f"{HELPER.stem}.class").is_file():
            return target
        _FAILED.add(digest)
        return None


def is_consistent(document: str, *, budget: float | None = None) -> bool:
    """Whether HermiT finds a functional-syntax document consistent."""
    with Hermit(document, deadline=budget) as h:
        return h.abox(None)


class Hermit:
    """``with Hermit(tbox_document) as h: h.abox(doc); h.type(ind, cls)`` — one JVM, many questions."""

    def __init__(self, tbox: str, *, deadline: float | None = None) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="acse-owl-")
        self.dir = Path(self.tmp.name)
        self.budget = deadline
        self.deadline = None if deadline is None else time.monotonic() + deadline
        self.questions = 0
        cmd = _helper_command()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8", bufsize=1)
        self._n = 0
        path = self.dir / "tbox.ofn"
        path.write_text(tbox, encoding="utf-8")
        try:
            self._say(f"tbox {path}", "ok")
        except BaseException:
            self.close()  # no ``with`` block yet to stop the JVM
            raise

    def _ask(self, line: str) -> str:
        """Send one command and read its answer; a question still running at the deadline is stopped.

        Why a timer that kills the JVM: one satisfiability test can run for minutes, and a
        check between questions would only notice once it returned.
        """
        timer = None
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise out_of_time(self.budget)
            timer = threading.Timer(left, self.proc.kill)
            timer.daemon = True
            timer.start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline().strip()
        except (BrokenPipeError, OSError) as exc:
            if self._late():
                raise out_of_time(self.budget) from exc
            raise ReasonerError(f"HermiT stopped: {self._stderr()}") from exc
        finally:
            if timer is not None:
                timer.cancel()
        if not answer:
            if self._late():
                raise out_of_time(self.budget)
            raise ReasonerError(f"HermiT stopped: {self._stderr()}")
        if answer.startswith("error:"):
            raise ReasonerError(f"HermiT: {answer[6:].strip()[:2000]}")
        self.questions += 1
        return answer

    def _late(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _stderr(self) -> str:
        self.proc.kill()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        return err.strip()[-2000:] or f"exit status {self.proc.wait()}"

    def _say(self, line: str, expected: str) -> None:
        got = self._ask(line)
        if got != expected:
            raise ReasonerError(f"HermiT answered {got!r} to {line.split()[0]}")

    def abox(self, document: str | None = None) -> bool:
        """A fresh reasoner over the TBox and these assertions; whether it is consistent."""
        if document is None:
            return self._ask("abox") == "consistent"
        self._n += 1
        path = self.dir / f"abox-{self._n}.ofn"  # a new name each time: the OWL API remembers documents
        path.write_text(document, encoding="utf-8")
        try:
            return self._ask(f"abox {path}") == "consistent"
        finally:
            path.unlink()

    def type(self, individual: str, cls: str) -> bool:
        return self._ask(f"type {individual} {cls}") == "true"

    def not_type(self, individual: str, cls: str) -> bool:
        """Whether the individual is provably outside the class."""
        return self._ask(f"nottype {individual} {cls}") == "true"

    def sub(self, a: str, b: str) -> bool:
        return self._ask(f"sub {a} {b}") == "true"

    def sat(self, a: str, b: str) -> bool:
        return self._ask(f"sat {a} {b}") == "true"

    def pairs(self, questions: Sequence[tuple[str, str, str]]) -> list[tuple[bool, bool, bool]]:
        """For each (P, Q, R) of named classes: (P satisfiable, Q satisfiable, R satisfiable), Q and R
        asked only when P is (False otherwise).

        Why named classes and one call: HermiT answers a question about named classes on the
        reasoner's own tableau, while an anonymous ``A and B`` copies the whole TBox's clauses
        for each question; and a file of questions saves a round trip per question.
        """
        self._n += 1
        src, dst = self.dir / f"pairs-{self._n}.txt", self.dir / f"answers-{self._n}.txt"
        src.write_text("".join(f"{p} {a} {b}\n" for p, a, b in questions), encoding="utf-8")
        try:
            self._say(f"pairs {src} {dst}", f"ok {len(questions)}")
            lines = dst.read_text(encoding="utf-8").splitlines()
        finally:
            src.unlink(missing_ok=True)
            dst.unlink(missing_ok=True)
        return [(x == "1", y == "1", z == "1") for x, y, z in (line.split() for line in lines)]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, t: object, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
