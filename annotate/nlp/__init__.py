"""Pre-annotation: input documents, spaCy pipelines, relation rules, and the ``preannotate`` verb."""
