"""Read the registered record page (shared/seeds/NCT02034981.txt) into fields.

Tests compare the graph, the pages and the exports against these fields, so the
seed is parsed once, here, and never copied into test code by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from conftest import SEED  # one place says where the test material lives

BULLET = "•"


def norm(text: str) -> str:
    """Whitespace-normalised text (the seed uses non-breaking spaces and wraps)."""
    return " ".join(text.split())


def month_year(text: str) -> str:
    """'August 2013' -> '2013-08'."""
    return datetime.strptime(norm(text), "%B %Y").strftime("%Y-%m")


def day_month_year(text: str) -> str:
    """'January 14, 2014' -> '2014-01-14'."""
    return datetime.strptime(norm(text), "%B %d, %Y").strftime("%Y-%m-%d")


@dataclass
class Outcome:
    measure: str
    time_frame: str
    description: str


@dataclass
class Bullet:
    text: str
    children: list[str] = field(default_factory=list)


@dataclass
class SeedRecord:
    lines: list[str]
    nct_id: str = ""
    brief_title: str = ""
    official_title: str = ""
    status: str = ""
    dates: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (type, iso)
    collaborators: list[str] = field(default_factory=list)
    brief_summary: list[str] = field(default_factory=list)
    detailed_description: list[str] = field(default_factory=list)
    cohorts: dict[int, str] = field(default_factory=dict)
    design: dict[str, str] = field(default_factory=dict)
    arm_label: str = ""
    arm_description: str = ""
    intervention_description: str = ""
    dosing: list[str] = field(default_factory=list)
    other_name: str = ""
    primary_outcomes: list[Outcome] = field(default_factory=list)
    secondary_outcomes: list[Outcome] = field(default_factory=list)
    eligibility: dict[str, str] = field(default_factory=dict)
    inclusion: list[Bullet] = field(default_factory=list)
    exclusion: list[Bullet] = field(default_factory=list)
    location: list[str] = field(default_factory=list)
    principal_investigator: str = ""
    responsible_party: str = ""
    other_ids: list[str] = field(default_factory=list)
    last_verified: str = ""
    fda: dict[str, bool] = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)
    mesh_terms: list[str] = field(default_factory=list)

    def index(self, prefix: str, start: int = 0) -> int:
        for i in range(start, len(self.lines)):
            if norm(self.lines[i]).startswith(prefix):
                return i
        raise KeyError(prefix)

    def value(self, label: str) -> str:
        """The value of a 'Label : value' line."""
        line = norm(self.lines[self.index(label)])
        return norm(line.split(":", 1)[1])

    def block(self, start: str, end: str) -> list[str]:
        """Non-empty lines strictly between two headings."""
        i = self.index(start)
        j = self.index(end, i + 1)
        return [line for line in self.lines[i + 1 : j] if norm(line)]


def _outcomes(lines: list[str]) -> list[Outcome]:
    out: list[Outcome] = []
    for line in lines:
        m = re.match(r"\s*\d+\.\s+(.*)\[\s*Time\s+Frame:\s*(.*)\]\s*$", line.replace("\xa0", " "))
        if m:
            out.append(Outcome(norm(m.group(1)), norm(m.group(2)), ""))
        elif out:
            out[-1].description = norm(out[-1].description + "\n" + line) if out[-1].description else norm(line)
    return out


def _paragraph_outcomes(lines: list[str]) -> list[Outcome]:
    """Outcomes whose description spans paragraphs (blank lines kept)."""
    out: list[Outcome] = []
    paragraphs: list[list[str]] = []
    for line in lines:
        m = re.match(r"\s*\d+\.\s+(.*)\[\s*Time\s+Frame:\s*(.*)\]\s*$", line.replace("\xa0", " "))
        if m:
            out.append(Outcome(norm(m.group(1)), norm(m.group(2)), ""))
            paragraphs.append([])
        elif out and norm(line):
            paragraphs[-1].append(norm(line))
    for o, p in zip(out, paragraphs, strict=True):
        o.description = "\n\n".join(p)
    return out


def _bullets(lines: list[str]) -> list[Bullet]:
    out: list[Bullet] = []
    for line in lines:
        if BULLET not in line:
            continue
        indent = len(line) - len(line.lstrip())
        text = norm(line.split(BULLET, 1)[1])
        if indent >= 4 and out:
            out[-1].children.append(text)
        else:
            out.append(Bullet(text))
    return out


@cache
def seed_record(path: Path = SEED) -> SeedRecord:
    lines = path.read_text(encoding="utf-8").splitlines()
    r = SeedRecord(lines)
    r.brief_title = norm(lines[r.index("Phase 2 Study")])
    r.nct_id = r.value("ClinicalTrials.gov Identifier")
    r.status = r.value("Recruitment Status")
    r.dates["First Posted"] = ("ACTUAL", day_month_year(r.value("First Posted")))
    r.dates["Last Update Posted"] = ("ACTUAL", day_month_year(r.value("Last Update Posted")))
    for label in ("Study Start Date", "Primary Completion Date", "Study Completion Date"):
        i = next(k for k, line in enumerate(lines) if label in line)
        kind, rest = norm(lines[i]).split(" ", 1)
        r.dates[label] = (kind.upper(), month_year(rest.split(":", 1)[1]))
    i = r.index("Last Update Posted")
    r.collaborators = [norm(line) for line in lines[i + 1 : i + 3]]
    r.brief_summary = [norm(line) for line in r.block("Brief Summary:", "Condition or disease")]
    desc = r.block("Detailed Description:", "Layout table for study information")
    r.detailed_description = [norm(line) for line in desc if not re.match(r"\s*\d+\.\s", line)]
    for line in desc:
        m = re.match(r"\s*(\d+)\.\s+(.*)$", line)
        if m:
            r.cohorts[int(m.group(1))] = norm(m.group(2))
    for key in ("Study Type", "Allocation", "Intervention Model", "Masking", "Primary Purpose", "Official Title"):
        r.design[key] = r.value(key)
    r.design["Enrollment"] = norm(lines[r.index("Actual Enrollment")].split(":", 1)[1])
    r.official_title = r.design["Official Title"]
    i = r.index("Experimental:")
    r.arm_label = norm(lines[i]).split(":", 1)[1].strip()
    r.arm_description = norm(lines[i + 1])
    j = r.index("Patients will receive oral crizotinib")
    r.intervention_description = norm(lines[j])
    for line in lines[j + 1 : r.index("Other Name")]:
        if norm(line):
            r.dosing.append(norm(line.replace(BULLET, "")).lstrip("-").strip())
    r.other_name = r.value("Other Name")
    r.primary_outcomes = _paragraph_outcomes(r.block("Primary Outcome Measures", "Secondary Outcome Measures"))
    r.secondary_outcomes = _outcomes(r.block("Secondary Outcome Measures", "Information from the National Library"))
    for key in ("Ages Eligible for Study", "Sexes Eligible for Study", "Accepts Healthy Volunteers"):
        r.eligibility[key] = r.value(key)
    r.inclusion = _bullets(r.block("Accepts Healthy Volunteers", "Exclusion"))
    r.exclusion = _bullets(r.block("Exclusion", "Information from the National Library"))
    r.location = [norm(line) for line in r.block("Layout table for location information", "Sponsors and Collaborators")]
    pi = r.value("Principal Investigator")
    r.principal_investigator = pi
    r.responsible_party = r.value("Responsible Party")
    i = r.index("Other Study ID Numbers")
    r.other_ids = [r.value("Other Study ID Numbers"), norm(lines[i + 1])]
    r.last_verified = month_year(r.value("Last Verified"))
    r.fda["drug"] = r.value("Studies a U.S. FDA-regulated Drug Product") == "Yes"
    r.fda["device"] = r.value("Studies a U.S. FDA-regulated Device Product") == "Yes"
    r.keywords = [norm(line) for line in r.block("Keywords provided by", "Additional relevant MeSH terms")]
    r.mesh_terms = [norm(line) for line in lines[r.index("Layout table for MeSH terms") + 1 :] if norm(line)]
    return r
