"""annotate: pre-annotate news articles with spaCy, correct them in Doccano, export training data."""

__version__ = "0.1.0"
