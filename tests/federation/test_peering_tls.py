"""Peering over mutual TLS between real ``thiqa serve`` processes: every node serves
HTTPS with its own certificate, partners pin each other's key and certificate together
(the identity document carries both), and the links pull and push through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.federation.peering import WAIT_S, indicators, pairs, running
from thiqa.federation.lab import Group, Lab, wait_for


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Path(tmp_path_factory.mktemp("mtls")), names=("a", "b"), tls=True)
    yield from running(lab, [Group("Pair", ("a", "b"), "green")],
                       [("a", "b", "pull"), ("b", "a", "pull")])


def test_nodes_serve_https_and_peer_over_mutual_tls(lab: Lab) -> None:
    assert lab["a"].url.startswith("https://") and lab["b"].url.startswith("https://")
    mine = indicators(20)
    assert lab["a"].publish("pair", mine)["success_count"] == 20
    assert wait_for(lambda: pairs(mine) <= set(lab["b"].held("pair")), WAIT_S)
    theirs = indicators(5)
    assert lab["b"].publish("pair", theirs)["success_count"] == 5
    assert wait_for(lambda: pairs(theirs) <= set(lab["a"].held("pair")), WAIT_S)


def test_a_client_that_does_not_pin_the_node_certificate_is_refused(lab: Lab) -> None:
    # Default verification (the system's CAs) cannot verify a self-signed node: the
    # connection fails before any API key is sent.
    with pytest.raises(httpx.ConnectError):
        httpx.get(lab["a"].url + "/taxii2/", headers=lab["a"].headers(), timeout=5.0)
    # Plain HTTP to the HTTPS port gets no TAXII answer either.
    plain = lab["a"].url.replace("https://", "http://") + "/taxii2/"
    with pytest.raises(httpx.HTTPError):
        httpx.get(plain, headers=lab["a"].headers(), timeout=5.0).raise_for_status()
