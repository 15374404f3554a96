"""Transport security: the node certificate, pinning it with the key, and mutual TLS
against a real ``thiqa serve`` process on loopback (no mocks: real sockets, real
handshakes, the trust store changed by the CLI beside the running server)."""

from __future__ import annotations

import json
import ssl
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.conftest import TAXII
from tests.e2e.conftest import START_TIMEOUT_S, ServerProcess, launch, thiqa
from thiqa.cli import main
from thiqa.errors import BadRequest, ConfigError
from thiqa.federation import https, tls
from thiqa.node import Node
from thiqa.settings import Settings, load
from thiqa.store.sqlite import SQLiteStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- certificates -----------------------------------------------------------------------------
def test_create_makes_a_self_signed_certificate_for_the_named_hosts(tmp_path: Path) -> None:
    cert = tls.create(tmp_path, NOW, common_name="Agency A", hosts=["node-a.example.org"],
                      ips=["192.0.2.7", "2001:db8::7"], days=30)
    crt, key = tls.own_paths(tmp_path)
    for path in (crt, key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = x509.load_pem_x509_certificate(crt.read_bytes())
    assert parsed.issuer == parsed.subject  # self-signed
    assert tls.fingerprint_of(parsed.public_bytes(serialization.Encoding.DER)) == \
        cert.fingerprint
    assert (cert.hosts, cert.ips) == (("node-a.example.org",), ("192.0.2.7", "2001:db8::7"))
    assert (cert.not_after - NOW).days == 30
    assert tls.load_certificate(crt) == cert

    with pytest.raises(BadRequest, match="--force"):
        tls.create(tmp_path, NOW, common_name="Agency A")
    again = tls.create(tmp_path, NOW, common_name="Agency A", force=True)
    assert again.fingerprint != cert.fingerprint
    assert (again.hosts, again.ips) == (tls.DEFAULT_HOSTS, tls.DEFAULT_IPS)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"hosts": ["bad host"]}, "not a DNS host name"),
    ({"ips": ["300.1.1.1"]}, "not an IP address"),
    ({"hosts": [], "ips": []}, "at least one"),
    ({"days": 0}, "days must be"),
    ({"days": 99_999}, "days must be"),
])
def test_bad_certificate_requests_are_refused_and_keep_the_old_one(
        tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    old = tls.create(tmp_path, NOW, common_name="A")
    with pytest.raises(BadRequest, match=message):
        tls.create(tmp_path, NOW, common_name="A", force=True, **kwargs)
    assert tls.load_certificate(tls.own_paths(tmp_path)[0]) == old


def test_fingerprints_are_read_in_the_forms_operators_paste() -> None:
    hexfp = "ab" * 32
    colons = ":".join(["AB"] * 32)
    for text in (f"sha256:{hexfp}", f"SHA256:{hexfp.upper()}", colons,
                 f"SHA256 Fingerprint={colons}", f"  {hexfp}  "):
        assert tls.normalise_fingerprint(text) == f"sha256:{hexfp}"
    for bad in ("sha256:ab", "sha1:" + "ab" * 20, "sha256:" + "zz" * 32, ""):
        with pytest.raises(BadRequest, match="not a SHA-256 certificate fingerprint"):
            tls.normalise_fingerprint(bad)


# -- settings ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("toml", "message"), [
    ('tls = "maybe"', "tls must be one of auto, on, off"),
    ('tls_client_auth = "sometimes"', "tls_client_auth must be one of off, optional"),
])
def test_bad_tls_settings_are_refused(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "thiqa.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load(env={"THIQA_DATA": str(tmp_path)})


@pytest.mark.parametrize(("host", "mode", "cert", "expected"), [
    ("127.0.0.1", "auto", "", False),       # loopback: plain HTTP for local use and tests
    ("127.0.0.1", "auto", "c.pem", True),   # a named certificate turns HTTPS on
    ("127.0.0.1", "on", "", True),
    ("127.0.0.1", "off", "", False),
    ("0.0.0.0", "auto", "", True),          # beyond loopback: always HTTPS
    ("192.0.2.7", "on", "", True),
    ("0.0.0.0", "off", "", ConfigError),    # never plain HTTP beyond loopback
])
def test_when_serve_speaks_tls(host: str, mode: str, cert: str, expected: object) -> None:
    s = Settings(host=host, tls=mode, tls_cert=cert, tls_key=cert and "k.pem")
    if expected is ConfigError:
        with pytest.raises(ConfigError, match="beyond loopback"):
            tls.serves_tls(s)
    else:
        assert tls.serves_tls(s) is expected


def test_serve_refuses_plain_http_or_a_missing_certificate_beyond_loopback(
        tmp_path: Path) -> None:
    data = str(tmp_path / "n")
    assert run("init", "--data", data).exit_code == 0
    r = run("serve", "--data", data, "--host", "0.0.0.0", "--tls", "off")
    assert r.exit_code == 1 and "beyond loopback" in r.stderr and "needs TLS" in r.stderr
    for f in tls.own_paths(data):
        f.unlink()
    r = run("serve", "--data", data, "--host", "0.0.0.0")
    assert r.exit_code == 1 and "no TLS certificate" in r.stderr and "tls create" in r.stderr


# -- the CLI and the identity document ---------------------------------------------------------
def ok_json(*args: str) -> Any:
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_init_tls_verbs_and_pinning_the_certificate_with_the_key(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    first = ok_json("init", "--data", a, "--org-name", "Agency A")
    assert ok_json("init", "--data", b, "--org-name", "Agency B")["tls"]["fingerprint"]
    shown = ok_json("tls", "show", "--data", a)
    assert shown["fingerprint"] == first["tls"]["fingerprint"]
    assert shown["hosts"] == ["localhost"] and shown["ips"] == ["127.0.0.1", "::1"]
    assert not shown["expired"]
    me = ok_json("key", "show", "--data", a)
    assert me["tls_fingerprint"] == shown["fingerprint"]
    assert tls.parse_certificate(me["tls_certificate"]).fingerprint == shown["fingerprint"]

    refused = run("tls", "create", "--data", a)
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert ok_json("tls", "show", "--data", a) == shown

    # A pin whose certificate does not match the fingerprint the operator checked by
    # phone is refused, and nothing is pinned.
    doc = tmp_path / "a.json"
    doc.write_text(json.dumps(me))
    wrong = "sha256:" + "0" * 64
    r = run("trust", "pin", str(doc), "--data", b, "--tls-fingerprint", wrong)
    assert r.exit_code == 1 and "does not match the certificate" in r.stderr
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**me, "tls_fingerprint": wrong}))
    r = run("trust", "pin", str(forged), "--data", b)
    assert r.exit_code == 1 and "does not match the certificate" in r.stderr
    garbled = tmp_path / "garbled.json"
    garbled.write_text(json.dumps({**me, "tls_certificate": "-----BEGIN CERTIFICATE-----\nxx"}))
    r = run("trust", "pin", str(garbled), "--data", b)
    assert r.exit_code == 1 and "not a PEM X.509 certificate" in r.stderr
    assert ok_json("trust", "list", "--data", b) == []

    pinned = ok_json("trust", "pin", str(doc), "--data", b,
                     "--tls-fingerprint", shown["fingerprint"].upper().replace("SHA256:", ""))
    assert pinned["tls_fingerprint"] == shown["fingerprint"]
    store = SQLiteStore(Path(b) / "thiqa.db")
    try:
        assert tls.pinned_certificates(store) == {shown["fingerprint"]: me["tls_certificate"]}
    finally:
        store.close()

    # A renewed certificate: the operator re-pins the new identity document.
    renewed = ok_json("tls", "create", "--data", a, "--force", "--host", "node-a.example.org")
    assert renewed["fingerprint"] != shown["fingerprint"]
    assert ok_json("key", "show", "--data", a)["tls_fingerprint"] == renewed["fingerprint"]


def test_a_certificate_file_can_be_pinned_beside_an_older_identity_document(
        tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for d, org in ((a, "Agency A"), (b, "Agency B")):
        assert run("init", "--data", d, "--org-name", org).exit_code == 0
    me = ok_json("key", "show", "--data", a)
    doc = tmp_path / "a.json"
    doc.write_text(json.dumps({k: v for k, v in me.items() if not k.startswith("tls_")}))
    crt = tls.own_paths(a)[0]
    pinned = ok_json("trust", "pin", str(doc), "--data", b, "--tls-certificate", str(crt))
    assert pinned["tls_fingerprint"] == me["tls_fingerprint"]


# -- the client factories ----------------------------------------------------------------------
def test_client_factories_refuse_plain_http_beyond_loopback(tmp_path: Path) -> None:
    node = Node(Settings(data=str(tmp_path)), SQLiteStore(tmp_path / "thiqa.db"))
    trust = tls.TLSTrust.of(node)
    try:
        for url in ("http://192.0.2.7:8471/", "http://partner.example.org/taxii2/",
                    "http://[2001:db8::1]:8471/"):
            with pytest.raises(ConfigError, match=r"plain HTTP to \S+ is refused"):
                https.httpx_client(url, None, trust=trust)
            with pytest.raises(ConfigError, match=r"plain HTTP to \S+ is refused"):
                https.httpx_async_client(url, "sha256:" + "ab" * 32, trust=trust)
        with pytest.raises(ConfigError, match="needs the TLS fingerprint"):
            https.httpx_client("https://partner.example.org/", None, trust=trust)
        with pytest.raises(ConfigError, match="is not pinned"):
            https.httpx_client("https://partner.example.org/", "sha256:" + "ab" * 32,
                               trust=trust)
        with pytest.raises(ConfigError, match="a peer URL is https"):
            https.httpx_client("ftp://partner.example.org/", None, trust=trust)
        for url in ("http://127.0.0.1:8471/", "http://127.0.0.2:8471/", "http://[::1]:1/",
                    "http://localhost:8471/"):
            with https.httpx_client(url, None, trust=None) as client:
                assert client.base_url.host in ("127.0.0.1", "127.0.0.2", "::1", "localhost")
    finally:
        node.store.close()


# -- mutual TLS against a real server ------------------------------------------------------------
@dataclass
class Member:
    data: Path
    node: Node
    identity: dict[str, Any]

    @property
    def trust(self) -> tls.TLSTrust:
        return tls.TLSTrust.of(self.node)

    @property
    def tls_fp(self) -> str:
        fp: str = self.identity["tls_fingerprint"]
        return fp


def member(root: Path, name: str) -> tuple[Member, dict[str, Any]]:
    data = root / name
    first = thiqa(data, "init", "--org-name", f"Agency {name.upper()}")
    node = Node(Settings(data=str(data)), SQLiteStore(data / "thiqa.db"))
    return Member(data, node, thiqa(data, "key", "show")), first


def pin(receiver: Member, sender: Member) -> None:
    doc = receiver.data.parent / f"{sender.data.name}-for-{receiver.data.name}.json"
    doc.write_text(json.dumps(sender.identity))
    thiqa(receiver.data, "trust", "pin", str(doc))


@dataclass
class Federation:
    server: ServerProcess
    client_auth: str  # the server's tls_client_auth
    key: str  # an admin API key of the serving node
    a: Member  # the serving node
    b: Member  # pinned by a, and pins a
    c: Member  # pins a; a does not pin it

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def get(self, client: httpx.Client, key: str | None = None) -> httpx.Response:
        headers = {"Accept": TAXII}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return client.get("/taxii2/", headers=headers)


def start_tls(data: Path, client_auth: str, probe: tls.TLSTrust, fp: str) -> ServerProcess:
    """``thiqa serve --tls on`` on a free loopback port, once a handshake succeeds."""
    server = launch(data, "--tls", "on", "--tls-client-auth", client_auth)
    deadline = time.monotonic() + START_TIMEOUT_S
    url = f"https://127.0.0.1:{server.port}"
    while time.monotonic() < deadline and server.proc.poll() is None:
        try:
            with https.httpx_client(url, fp, trust=probe, timeout=2.0) as client:
                client.get("/taxii2/")
            return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.stop()
    raise AssertionError(f"thiqa serve --tls on did not start:\n{server.output()}")


@pytest.fixture(scope="module", params=["required", "optional"])
def federation(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp(f"mtls-{request.param}")
    (a, first), (b, _), (c, _) = (member(root, n) for n in ("a", "b", "c"))
    pin(a, b)
    pin(b, a)
    pin(c, a)
    pin(b, c)  # b knows c's certificate: used to pin the wrong one for a's address
    server = start_tls(a.data, request.param, b.trust, a.tls_fp)
    try:
        yield Federation(server, request.param, first["api_key"]["key"], a, b, c)
    finally:
        server.stop()
        for m in (a, b, c):
            m.node.store.close()
    assert "Traceback" not in server.output(), server.output()


def refusal(fed: Federation, make: Any) -> str:
    """Call ``fed``'s server with the client ``make()`` returns; the plain-words reason the
    call failed (it must fail)."""
    with make() as client, pytest.raises(httpx.TransportError) as caught:
        fed.get(client, fed.key)
    return https.explain(caught.value)


def test_a_pinned_peer_with_an_api_key_is_served(federation: Federation) -> None:
    fed = federation
    with https.httpx_client(fed.url, fed.a.tls_fp, trust=fed.b.trust, timeout=10) as client:
        r = fed.get(client, fed.key)
        assert r.status_code == 200 and r.json()["api_roots"] == ["/api/"]
        # Mutual TLS is a layer beside the API key, not instead of it.
        assert fed.get(client).status_code == 401


def test_an_unpinned_certificate_is_refused_at_the_handshake(federation: Federation) -> None:
    fed = federation
    why = refusal(fed, lambda: https.httpx_client(fed.url, fed.a.tls_fp, trust=fed.c.trust,
                                                  timeout=10))
    assert "the peer refused this node's TLS certificate" in why


def test_without_a_client_certificate(federation: Federation) -> None:
    fed = federation
    ctx = ssl.create_default_context(cadata=fed.a.identity["tls_certificate"])
    ctx.check_hostname = False
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN

    def anonymous() -> httpx.Client:
        return httpx.Client(base_url=fed.url, verify=ctx, timeout=10)

    if fed.client_auth == "required":
        assert "the peer refused this node's TLS certificate" in refusal(fed, anonymous)
    else:  # optional: TAXII tools without a certificate use their API key alone
        with anonymous() as client:
            assert fed.get(client, fed.key).status_code == 200


def test_a_client_pinning_another_server_certificate_refuses_to_talk(
        federation: Federation) -> None:
    fed = federation
    # b expects c's certificate at a's address: the handshake stops before any request,
    # so the API key never leaves b.
    why = refusal(fed, lambda: https.httpx_client(fed.url, fed.c.tls_fp, trust=fed.b.trust,
                                                  timeout=10))
    assert why.startswith("the peer's TLS certificate is not the one pinned for it")


def test_pins_and_revocations_take_effect_on_the_running_server(
        federation: Federation) -> None:
    fed = federation

    def as_c() -> httpx.Client:
        return https.httpx_client(fed.url, fed.a.tls_fp, trust=fed.c.trust, timeout=10)

    pin(fed.a, fed.c)  # beside the running server, as an operator would
    try:
        with as_c() as client:
            assert fed.get(client, fed.key).status_code == 200
    finally:
        thiqa(fed.a.data, "trust", "revoke", fed.c.identity["fingerprint"])
    assert "the peer refused this node's TLS certificate" in refusal(fed, as_c)
    with https.httpx_client(fed.url, fed.a.tls_fp, trust=fed.b.trust, timeout=10) as client:
        assert fed.get(client, fed.key).status_code == 200  # b is untouched
