"""thiqa: a federated, real-time threat-intelligence exchange (STIX 2.1 / TAXII 2.1)."""

__version__ = "0.1.0"
