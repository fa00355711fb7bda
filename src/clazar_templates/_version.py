"""The library's version: also the template version recorded in every template's metadata."""

__version__ = "1.1.0"
