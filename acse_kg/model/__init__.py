"""The study model: frozen, typed studies read once from the graph (see :mod:`.study`, :mod:`.expressions`).

Every part of the registry that needs a study's protocol — matching, pages,
shapes, exports, the record check — reads it here, never with its own SPARQL.
"""

from .expressions import (
    COMPARATORS,
    LEAVES,
    AlterationTest,
    And,
    Comparison,
    Expr,
    Not,
    Or,
    PriorTherapyTest,
    Term,
    TumourTypeTest,
    Variable,
    fields_read,
    operands,
    sort_key,
    walk,
)
from .reader import (
    CohortKey,
    ModelError,
    StudyNotFound,
    cohort_keys,
    read_study,
    read_variables,
    registry_studies,
    structured_studies,
    study_from_graph,
)
from .study import (
    RECRUITING_CODES,
    Arm,
    Cohort,
    CohortStatus,
    Criterion,
    Curation,
    Design,
    Drug,
    Intervention,
    Outcome,
    Population,
    Regimen,
    Study,
)

__all__ = [
    "COMPARATORS", "CohortKey", "LEAVES", "cohort_keys", "RECRUITING_CODES", "AlterationTest", "And", "Arm", "Cohort", "CohortStatus",
    "Comparison", "Criterion", "Curation", "Design", "Drug", "Expr", "Intervention", "ModelError", "Not", "Or",
    "Outcome", "Population", "PriorTherapyTest", "Regimen", "Study", "StudyNotFound", "Term", "TumourTypeTest",
    "Variable", "fields_read", "operands", "read_study", "read_variables", "registry_studies", "sort_key",
    "structured_studies", "study_from_graph", "walk",
]
