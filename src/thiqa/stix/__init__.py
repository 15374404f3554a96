"""STIX 2.1: validation of objects and patterns."""
