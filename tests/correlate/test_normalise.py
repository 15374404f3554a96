"""Normalisation rules and their properties (idempotence, round trips), and detection."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thiqa.correlate import normalise as n
from thiqa.correlate.detect import detect

FAMILIES = st.sampled_from(n.FAMILIES)


@given(FAMILIES, st.text(max_size=80))
def test_every_normaliser_is_idempotent(family: str, text: str) -> None:
    once = n.normalise(family, text)
    if once is not None:
        assert n.normalise(family, once) == once


@given(st.ip_addresses(v=4))
def test_ipv4_round_trip(addr: ipaddress.IPv4Address) -> None:
    assert n.normalise("ipv4", str(addr)) == str(addr)


@given(st.ip_addresses(v=6))
def test_ipv6_canonical_form_is_rfc5952(addr: ipaddress.IPv6Address) -> None:
    got = n.ip_value(addr.exploded.upper())
    if addr.ipv4_mapped is not None:
        assert got == str(addr.ipv4_mapped)
    else:
        assert got == addr.compressed


@given(st.ip_addresses(v=4), st.integers(0, 32))
def test_cidr_is_the_network_with_host_bits_cleared(addr: ipaddress.IPv4Address,
                                                    plen: int) -> None:
    net = ipaddress.ip_network(f"{addr}/{plen}", strict=False)
    got = n.ip(f"{addr}/{plen}")
    assert got == ("ipv4", int(net.network_address), plen)
    assert n.ip_value(f"{addr}/{plen}") == (str(addr) if plen == 32 else str(net))


@given(st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9]{1,20}){0,2}\.[a-z]{2,10}", fullmatch=True))
def test_domain_case_and_trailing_dot(name: str) -> None:
    assert n.domain(name.upper() + ".") == name
    seen = detect(name.upper())
    assert seen is None or seen.value == name


@given(st.text(alphabet=st.characters(codec="utf-8", categories=["Ll", "Lo"]), min_size=1,
               max_size=12))
def test_idna_names_become_punycode_and_stay(label: str) -> None:
    got = n.domain(f"{label}.example")
    if got is not None:
        assert got.isascii() and n.domain(got) == got


@pytest.mark.parametrize(("text", "expected"), [
    ("HTTP://Evil.COM:80/a/B?x=1#frag", "http://evil.com/a/B?x=1"),
    ("https://evil.com:443", "https://evil.com/"),
    ("https://evil.com:8443/x", "https://evil.com:8443/x"),
    ("http://user@[2001:DB8::1]:8080/p", "http://user@[2001:db8::1]:8080/p"),
    ("http://bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://010.1.2.3/", "http://10.1.2.3/"),
    ("nonsense", None),
])
def test_url(text: str, expected: str | None) -> None:
    assert n.url(text) == expected
    if expected is not None:
        assert n.url(expected) == expected


@pytest.mark.parametrize(("family", "text", "expected"), [
    ("email", "John.Doe@Example.COM", "john.doe@example.com"),
    ("email", "Jane <jane@exAmple.org>", "jane@example.org"),
    ("hash", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
    ("hash", "AA:BB:CC", "aabbcc"),
    ("iban", "gb82 west 1234 5698 7654 32", "GB82WEST12345698765432"),
    ("phone", "+44 (20) 7946-0958", "+442079460958"),
    ("phone", "0044 20 7946 0958", "+442079460958"),
    ("phone", "0112233445", "0112233445"),
    ("mac", "AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff"),
    ("asn", "AS64500", "64500"),
    ("wallet", "0xAbCdEf0123456789aBcDeF0123456789ABCDEF01",
     "0xabcdef0123456789abcdef0123456789abcdef01"),
    ("wallet", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE"),
    ("ipv4", "2001:db8::1", None),
])
def test_rules(family: str, text: str, expected: str | None) -> None:
    assert n.normalise(family, text) == expected


def test_iban_mod97() -> None:
    assert n.iban_valid("GB82WEST12345698765432")
    assert not n.iban_valid("GB83WEST12345698765432")


@pytest.mark.parametrize(("text", "family", "kind", "value"), [
    ("10.0.0.1", "ipv4", "ipv4-addr", "10.0.0.1"),
    ("010.0.0.1", "ipv4", "ipv4-addr", "10.0.0.1"),
    ("::ffff:10.0.0.1", "ipv4", "ipv4-addr", "10.0.0.1"),
    ("2001:DB8::1", "ipv6", "ipv6-addr", "2001:db8::1"),
    ("10.0.0.0/8", "ipv4", "ipv4-addr", "10.0.0.0/8"),
    ("Mail.Example.com.", "domain", "domain-name", "mail.example.com"),
    ("a@B.com", "email", "email-addr", "a@b.com"),
    ("D41D8CD98F00B204E9800998ECF8427E", "hash", "md5", "d41d8cd98f00b204e9800998ecf8427e"),
    ("a" * 40, "hash", "sha1", "a" * 40),
    ("b" * 64, "hash", "sha256", "b" * 64),
    ("c" * 128, "hash", "sha512", "c" * 128),
    ("GB82 WEST 1234 5698 7654 32", "iban", "iban", "GB82WEST12345698765432"),
    ("+33 1 23 45 67 89", "phone", "phone-number", "+33123456789"),
    ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "wallet", "btc",
     "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
    ("1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE", "wallet", "btc", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE"),
    ("0x" + "a" * 40, "wallet", "eth", "0x" + "a" * 40),
    ("AS64500", "asn", "autonomous-system", "64500"),
    ("eth:0x" + "A" * 40, "wallet", "eth", "0x" + "a" * 40),
    ("phone:0112233445", "phone", "phone-number", "0112233445"),
    ("sha1:" + "A" * 40, "hash", "sha1", "a" * 40),
    ("evil[.]example[.]com", "domain", "domain-name", "evil.example.com"),
    ("hxxps://evil[.]com/x", "url", "url", "https://evil.com/x"),
    ("a[@]b[.]org", "email", "email-addr", "a@b.org"),
    ("10[.]0[.]0[.]1", "ipv4", "ipv4-addr", "10.0.0.1"),
])
def test_detect(text: str, family: str, kind: str, value: str) -> None:
    got = detect(text)
    assert got is not None and (got.family, got.kind, got.value) == (family, kind, value)


@pytest.mark.parametrize("text", ["", "hello", "GB83WEST12345698765432", "1.2.3.4.5", "12345",
                                  "ipv4:example.com"])
def test_not_recognised(text: str) -> None:
    assert detect(text) is None


@given(st.text(max_size=60))
def test_detect_is_stable_on_its_output(text: str) -> None:
    got = detect(text)
    if got is not None:  # every family name is also a kind: prefix
        again = detect(f"{got.family}:{got.value}")
        assert again is not None and again.value == got.value
