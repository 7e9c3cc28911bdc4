"""Matching a tumor profile against the trials of the registry.

profile_schema.py generates the contract's profile (model, JSON Schema) from
the graph's clinical variables, out of the parts in profile.py (numbers with
UCUM units, alterations, prior therapies), hgvs.py (protein changes) and
gene_symbols.py (every HGNC symbol); jsonld.py is the JSON-LD context that
makes a profile RDF; rules.py compiles the study model's expressions into
Kleene three-valued functions; completion.py decides a registered criterion
as a whole over the completions of missing data; candidates.py finds the
cohorts of a study a profile fits; dosing.py picks the regimen; engine.py
puts them together, for one study and for the whole registry (with its
gene index); result.py publishes the results' JSON Schemas; shacl.py
generates the reference SHACL shapes that pyshacl evaluates.
"""
