"""Federation: signing what the node originates, provenance hops, the trust store, and
the verification gate for what peers deliver (docs/federation.md).

The API peering builds on:

- :func:`thiqa.federation.keys.identity` — this node's id, organisation and public key
  (what partners pin); :func:`~thiqa.federation.keys.rotate` — a new node key and the
  signed rotation statement;
- :mod:`thiqa.federation.trust` — ``pin``, ``revoke``, ``accept_rotation``;
- :meth:`thiqa.node.Node.export` — a page for a peer, every version with the
  originator's signature (and this node's hop for what it forwards);
- :meth:`thiqa.node.Node.receive` — verify and store what a peer delivered;
  rejections come back with their reasons and are in the audit log.

- :mod:`thiqa.federation.https` — ``httpx_client`` / ``httpx_async_client`` for
  calling a peer (mutual TLS with the pinned certificate; plain HTTP on loopback only)
  and ``explain`` (why a call failed, in plain words).

Modules: ``merkle`` (batch trees), ``extension`` (the STIX property extension),
``sign`` (signing writes), ``verify``, ``receive``, ``export``, ``keys``, ``trust``,
``tls`` (the node certificate, pinned certificates, server and client contexts),
``https`` (clients for peers).
"""
