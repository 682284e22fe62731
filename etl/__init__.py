"""Extraction, cleaning and splitting: bytes or text in, chunks out.

Knows no database, HTTP server or queue."""
