"""Cohorts and criteria as defined OWL classes (:mod:`.classes`), matching by HermiT's classification
(:mod:`.classify`) and the cohorts of different trials that compete for the same patients (:mod:`.overlaps`)."""
