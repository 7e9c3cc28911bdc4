"""acse-kg: a knowledge-graph registry for precision-oncology basket trials."""

__version__ = "0.1.0"
