"""ClinicalTrials.gov API v2 interoperability: export, import, validation, query."""
