"""Training datasets from gold records: gate, split, write one folder per format, manifest.

The verb is :func:`export` (a file) or :func:`export_records` (records in memory); the
formats' writers live in :mod:`annotate.formats`.
"""

from annotate.export.exporter import ExportReport, export, export_records, format_summary
from annotate.export.options import FORMATS, ExportOptions, parse_formats

__all__ = [
    "FORMATS",
    "ExportOptions",
    "ExportReport",
    "export",
    "export_records",
    "format_summary",
    "parse_formats",
]
