"""Observables from SCOs and patterns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.conftest import DATA
from thiqa.correlate.detect import detect
from thiqa.correlate.extract import Observable, extract, from_pattern


def obs(pattern: str) -> list[tuple[str, str, str]]:
    return [(o.family, o.mode, o.value) for o in from_pattern(pattern)]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("[ipv4-addr:value = '10.0.0.1']", [("ipv4", "=", "10.0.0.1")]),
    ("[ipv4-addr:value ISSUBSET '10.1.2.3/8']", [("ipv4", "cidr", "10.0.0.0/8")]),
    ("[ipv6-addr:value ISSUBSET '2001:db8::/32']", [("ipv6", "cidr", "2001:db8::/32")]),
    ("[domain-name:value = 'Example.COM' OR domain-name:value LIKE '%.example.com']",
     [("domain", "=", "example.com"), ("domain", "sub", "example.com")]),
    ("[url:value LIKE 'http://evil.com/%']", [("url", "prefix", "http://evil.com/")]),
    ("[url:value LIKE '%/gate.php']", [("url", "suffix", "/gate.php")]),
    ("[domain-name:value LIKE '%evil%']", [("domain", "contains", "evil")]),
    ("[file:hashes.'SHA-256' = 'AB" + "0" * 62 + "' AND file:name = 'x.exe']",
     [("hash", "=", "ab" + "0" * 62)]),
    ("[domain-name:value IN ('A.com', 'b.COM')]",
     [("domain", "=", "a.com"), ("domain", "=", "b.com")]),
    ("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = "
     "'5.6.7.8' AND network-traffic:dst_port = 447]", [("ipv4", "=", "5.6.7.8")]),
    ("[domain-name:value = 'a.com' AND domain-name:resolves_to_refs[*].value = '1.2.3.4']",
     [("domain", "=", "a.com"), ("ipv4", "=", "1.2.3.4")]),
    ("[email-addr:value = 'X@Y.org'] FOLLOWEDBY [url:value = 'http://Y.org/']",
     [("email", "=", "x@y.org"), ("url", "=", "http://y.org/")]),
    ("[x-crypto-wallet:address = '1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE']",
     [("wallet", "=", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE")]),
    ("[x-bank-account:iban = 'gb82 west 1234 5698 7654 32']",
     [("iban", "=", "GB82WEST12345698765432")]),
    ("[user-account:x_misp_phone = '0112233445']", [("phone", "=", "0112233445")]),
    # not indexable
    ("[ipv4-addr:value != '10.0.0.1']", []),
    ("[ipv4-addr:value NOT = '10.0.0.1']", []),
    ("[domain-name:value MATCHES '^evil']", []),
    ("[url:value LIKE 'http://a_b.com/%']", []),
    ("[file:name = 'evil.exe']", []),
    ("[network-traffic:dst_port = 447]", []),
    ("not a pattern", []),
])
def test_pattern(pattern: str, expected: list[tuple[str, str, str]]) -> None:
    assert obs(pattern) == expected


def test_scos_and_misp_custom_objects() -> None:
    def values(obj: dict[str, Any]) -> list[Observable]:
        return extract(obj).observables

    assert [o.value for o in values({"type": "ipv4-addr", "value": "10.0.0.0/24"})] == [
        "10.0.0.0/24"]
    assert [(o.kind, o.value) for o in values({"type": "file", "hashes": {
        "SHA-1": "A" * 40, "MD5": "b" * 32}})] == [("sha1", "a" * 40), ("md5", "b" * 32)]
    assert [o.value for o in values({"type": "x-misp-object-iban",
                                     "x_misp_value": "LU1234567890ABCDEF1234567890"})] == [
        "LU1234567890ABCDEF1234567890"]
    misp = {"type": "x-misp-object", "x_misp_name": "btc-wallet", "x_misp_attributes": [
        {"type": "btc", "value": "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE"},
        {"type": "float", "value": "2.25"}, {"type": "phone-number", "value": "+33 1 23 45 67 89"}]}
    assert [(o.family, o.value) for o in values(misp)] == [
        ("wallet", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE"), ("phone", "+33123456789")]


def test_revoked_and_valid_until() -> None:
    base = {"type": "indicator", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '1.1.1.1']"}
    assert extract({**base, "revoked": True}).observables == []
    got = extract({**base, "valid_until": "2024-01-01T00:00:00Z"})
    assert got.valid_until_us == 1_704_067_200_000_000 and len(got.observables) == 1
    assert extract({**base, "pattern_type": "snort"}).observables == []


@pytest.mark.slow
def test_every_abusech_indicator_yields_its_ip() -> None:
    import orjson

    folder = DATA / "ioc-feeds" / "abusech-sslbl-stix21-feeds2stix"
    seen = total = 0
    for path in sorted(folder.rglob("*.json")):
        for obj in orjson.loads(path.read_bytes()).get("objects", []):
            if obj.get("type") == "indicator":
                total += 1
                seen += bool(extract(obj).observables)
    assert total > 8000 and seen == total


_SCO_TYPES = {"ipv4": "ipv4-addr", "ipv6": "ipv6-addr", "domain": "domain-name",
              "email": "email-addr", "url": "url"}


@given(st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None).map(lambda a: a.exploded),
    st.from_regex(r"[A-Za-z0-9]{1,15}\.[A-Za-z]{2,6}", fullmatch=True),
    st.from_regex(r"[a-z0-9.]{1,10}@[A-Za-z0-9]{1,10}\.(com|org)", fullmatch=True),
    st.from_regex(r"(http|HTTPS)://[A-Za-z0-9]{1,10}\.net(:80|:8080)?/[a-z/]{0,10}",
                  fullmatch=True)))
def test_a_pattern_and_an_observation_of_one_value_normalise_alike(value: str) -> None:
    seen = detect(value)
    assume(seen is not None)
    assert seen is not None
    stored = from_pattern(f"[{_SCO_TYPES[seen.family]}:value = '{value}']")
    assert [(o.family, o.value) for o in stored] == [(seen.family, seen.value)]
