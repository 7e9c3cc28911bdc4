"""Matching a tumor profile against the trials of the graph.

profile.py validates the contract's input; rules.py compiles the graph's
criteria into Kleene three-valued closures; candidates.py finds the cohorts a
profile fits; dosing.py picks the arm's regimen; engine.py puts them together;
shacl.py generates the reference SHACL shapes that pyshacl evaluates.
"""
