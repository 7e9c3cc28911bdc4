"""The registry's HTTP face: one FastAPI app (pages, SPARQL, linked data, matching, API v2)."""
