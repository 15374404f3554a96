"""TAXII 2.1 over HTTP (OASIS TAXII Version 2.1, 10 June 2021)."""

from thiqa.taxii.app import create_app

__all__ = ["create_app"]
