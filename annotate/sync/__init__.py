"""Records to a Doccano project and back: ``push.push`` and ``pull.pull``."""
