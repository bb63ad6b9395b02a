"""Bring data from other tools: Doccano, Prodigy, Label Studio, brat and CoNLL files as our records.

``convert.convert`` is the verb; one module per source reads its files into ``Record``s through
``builder.RecordBuilder``, which checks every span and relation; ``ledger.Ledger`` counts each
item skipped or repaired, with its reason and place; ``detect`` picks the source for ``--from auto``.
"""
