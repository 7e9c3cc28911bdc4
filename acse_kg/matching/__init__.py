"""Matching a tumor profile against the trials of the graph.

profile.py validates the contract's input (and publishes its JSON Schema);
jsonld.py is the JSON-LD context that makes a profile RDF; rules.py compiles
the graph's criteria into Kleene three-valued closures; candidates.py finds
the cohorts a profile fits; dosing.py picks the arm's regimen; engine.py puts
them together; result.py publishes the result's JSON Schema; shacl.py
generates the reference SHACL shapes that pyshacl evaluates.
"""
