"""Correlation: which stored indicators and observables mention the values members see.

    extract       observables of a stored version (SCOs, indicator patterns)
    normalise     one canonical text per value, per family (IP, domain, URL, hash, IBAN…)
    detect        the family of an observed value (``kind:value`` or guessed)
    index         the persistent observable index and its indexer (migration 0005)
    match         bulk matching, the visibility check, results
    warninglists  MISP warninglists: known-benign flags
    inputs        observed values from plain lists, CSV, JSON lines, Suricata, Zeek
    service       all of it wired to a node's settings and store
    api           POST /api/match/

The index holds one row per (normalised value, stored entry) and never a pairwise
correlation table (DESIGN.md); see docs/correlation.md.
"""
