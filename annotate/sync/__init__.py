"""Records to a Doccano project and back: ``push.push`` and ``pull.pull``, each a few named steps.

The steps live in the modules beside them; only :mod:`annotate.doccano` speaks HTTP for them.
"""
