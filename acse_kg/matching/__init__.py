"""Matching a tumor profile against the trials of the graph.

profile_schema.py generates the contract's profile (model, JSON Schema) from
the graph's clinical variables, out of the parts in profile.py (numbers with
UCUM units, alterations, prior therapies) and hgvs.py (protein changes);
jsonld.py is the JSON-LD context that makes a profile RDF; rules.py compiles
the graph's criteria into Kleene three-valued closures; candidates.py finds
the cohorts a profile fits; dosing.py picks the arm's regimen; engine.py puts
them together; result.py publishes the result's JSON Schema; shacl.py
generates the reference SHACL shapes that pyshacl evaluates.
"""
