"""The record model (documents, spans, relations), its JSON Schemas and its validation."""
