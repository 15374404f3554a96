"""Value formats (thiqa.stix.formats): timestamps, identifiers, URLs, addresses, codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thiqa.stix.formats import (
    is_base64,
    is_charset,
    is_cpe23,
    is_email,
    is_hex,
    is_identifier,
    is_ipv4,
    is_ipv6,
    is_iso639_2,
    is_language_tag,
    is_mac,
    is_property_name,
    is_type_name,
    is_url,
    timestamp_error,
    timestamp_has_millis,
    timestamp_lt,
    uuid_version,
)


@pytest.mark.parametrize(
    "value",
    [
        "2016-02-12T08:17:27Z",
        "2016-02-12T08:17:27.000Z",
        "2016-02-12T08:17:27.123456789Z",
        "2016-02-29T00:00:00Z",  # leap year
        "2000-02-29T00:00:00Z",  # divisible by 400
        "2016-12-31T23:59:60Z",  # RFC 3339 leap second
        "0001-01-01T00:00:00Z",
    ],
)
def test_valid_timestamps(value: str) -> None:
    assert timestamp_error(value) is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2016-13-12T08:17:27.000Z", "form"),
        ("2016-03-42T08:17:27.000Z", "form"),
        ("2016-03-00T08:17:27.000Z", "form"),
        ("2016-03-12T24:17:27.000Z", "form"),
        ("2016-03-12T08:60:27.000Z", "form"),
        ("2016-03-12T08:17:27.Z", "form"),  # a decimal point needs digits (§2.16.1)
        ("2016-03-12T08:17:27.000+00:00", "form"),  # UTC must be written Z
        ("2016-03-12T08:17:27.000z", "form"),
        ("2016-03-12 08:17:27.000Z", "form"),
        ("2016-03-12T08:17:27.000Z ", "form"),
        (" 2016-03-12T08:17:27.000Z", "form"),
        ("2016-03-12", "form"),
        ("2016-11-31T08:17:27.000Z", "day out of range"),
        ("2016-04-31T08:17:27.000Z", "day out of range"),
        ("2017-02-29T08:17:27.000Z", "not a leap year"),
        ("1900-02-29T08:17:27.000Z", "not a leap year"),
    ],
)
def test_invalid_timestamps(value: str, why: str) -> None:
    error = timestamp_error(value)
    assert error is not None
    assert why in error


def test_millisecond_precision() -> None:
    assert timestamp_has_millis("2016-02-12T08:17:27.000Z")
    assert timestamp_has_millis("2016-02-12T08:17:27.000123Z")
    assert not timestamp_has_millis("2016-02-12T08:17:27Z")
    assert not timestamp_has_millis("2016-02-12T08:17:27.1Z")
    assert not timestamp_has_millis("2016-02-12T08:17:27.12Z")


@pytest.mark.parametrize(
    ("a", "b", "lt"),
    [
        ("2016-02-12T08:17:27Z", "2016-02-12T08:17:27.000Z", False),
        ("2016-02-12T08:17:27.000Z", "2016-02-12T08:17:27Z", False),
        ("2016-02-12T08:17:27Z", "2016-02-12T08:17:27.001Z", True),
        ("2016-02-12T08:17:27.000123Z", "2016-02-12T08:17:27.001Z", True),
        ("2016-02-12T08:17:27.001Z", "2016-02-12T08:17:27.000123Z", False),
        ("2016-02-12T08:17:26.999999Z", "2016-02-12T08:17:27Z", True),
        ("2015-02-12T08:17:27.9Z", "2016-02-12T08:17:27Z", True),
    ],
)
def test_timestamp_order(a: str, b: str, lt: bool) -> None:
    assert timestamp_lt(a, b) is lt


_instants = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31)).map(
    lambda moment: moment.replace(tzinfo=UTC)
)
_precisions = st.sampled_from([0, 1, 3, 6])


def _format(moment: datetime, digits: int) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    return text + "Z"


def _truncate(moment: datetime, digits: int) -> datetime:
    step = 10 ** (6 - digits)
    return moment.replace(microsecond=moment.microsecond // step * step)


@given(_instants, _precisions, _instants, _precisions)
def test_timestamp_order_agrees_with_datetime(a: datetime, pa: int, b: datetime, pb: int) -> None:
    ta, tb = _format(a, pa), _format(b, pb)
    assert timestamp_error(ta) is None
    assert timestamp_error(tb) is None
    assert timestamp_lt(ta, tb) == (_truncate(a, pa) < _truncate(b, pb))


@given(st.dates(min_value=datetime(1, 1, 1).date(), max_value=datetime(9999, 12, 31).date()))
def test_every_calendar_date_is_valid(day: object) -> None:
    assert timestamp_error(f"{day}T00:00:00Z") is None


@given(st.dates(min_value=datetime(1, 1, 1).date(), max_value=datetime(9999, 12, 1).date()))
def test_days_past_the_end_of_the_month_are_invalid(day: object) -> None:
    first = day.replace(day=1)  # type: ignore[attr-defined]
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if last.day < 31:
        assert timestamp_error(f"{last.year:04d}-{last.month:02d}-{last.day + 1}T00:00:00Z")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", True),
        ("ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", True),  # UUIDv5
        ("malware--fdd60b30-b67c-11e3-b0b9-f01faf20d111", True),  # UUIDv1
        ("x-mitre-tactic--2558fd61-8c75-4730-94c4-11926db2a263", True),
        ("indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F", True),  # RFC 4122 §3: any case
        ("indicator--a932fcc6-e032-176c-126f-cb970a5a1adf", False),  # NCS variant (0xxx)
        ("indicator--a932fcc6-e032-476c-c26f-cb970a5a1adf", False),  # Microsoft variant
        ("indicator--a932fcc6-e032-076c-826f-cb970a5a1adf", False),  # version 0
        ("indicator--a932fcc6-e032-676c-826f-cb970a5a1adf", False),  # not an RFC 4122 version
        ("indicator--00000000-0000-0000-0000-000000000000", False),  # the nil UUID
        ("ipv4-addr--e42c19c8-f9fe-5ae9-9fc8-22c398f78fb", False),  # 11 hex digits
        ("tool--blablabla", False),
        ("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", False),
        ("corpo_ration--4527e5de-8572-446a-a57a-706f15467461", False),
        ("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", False),
        ("indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f", False),
        ("--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", False),
    ],
)
def test_identifiers(value: str, valid: bool) -> None:
    assert is_identifier(value) is valid


def test_uuid_version() -> None:
    assert uuid_version("ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd") == "5"
    assert uuid_version("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") == "4"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("indicator", True),
        ("x-mitre-tactic", True),
        ("x-example-com-customobject", True),
        ("abc", True),
        ("ab", False),
        ("a" * 251, False),
        ("X-example", False),
        ("corpo_ration", False),
        ("corpor@tion", False),
        ("x--double", False),
        ("-leading", False),
        ("9lives", False),
    ],
)
def test_type_names(value: str, valid: bool) -> None:
    assert is_type_name(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("x_mitre_version", True),
        ("abc", True),
        ("a" * 250, True),
        ("a" * 251, False),
        ("mp", False),
        ("x-something", False),
        ("9ome_custom_stuff", False),
        ("Name", False),
        ("my_new_property!", False),
    ],
)
def test_property_names(value: str, valid: bool) -> None:
    assert is_property_name(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("https://attack.mitre.org/techniques/T1059", True),
        ("http://capec.mitre.org/data/definitions/550.html", True),
        ("https://example.com/a%20b?q=1&r=[2]#frag", True),
        ("mailto:jdoe@example.com", True),
        ("urn:isbn:0451450523", True),
        ("ftp://198.51.100.1/file.txt", True),
        ("https://example.com/über", True),  # an IRI (RFC 3987) is tolerated
        (" https://pentera.io/blog/dhcp-spoofing-101", False),  # CAPEC's leading space
        ("https://example.com/a b", False),
        ("https://example.com/\t", False),
        ("foo", False),
        ("www.g.com", False),
        ("https://example.com/%zz", False),
        ("https://example.com/<script>", False),
        ("://example.com", False),
        ("", False),
    ],
)
def test_urls(value: str, valid: bool) -> None:
    assert is_url(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("jdoe@example.com", True),
        ("first.last+tag@sub.example.org", True),
        ("John Doe <jdoe@example.com>", False),
        ("jdoe", False),
        ("jdoe@", False),
        ("@example.com", False),
        ("a@b@c", False),
    ],
)
def test_emails(value: str, valid: bool) -> None:
    assert is_email(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("198.51.100.3", True),
        ("10.0.0.0/8", True),
        ("0.0.0.0/0", True),
        ("192.168.0.1/32", True),
        ("999.999.999.999", False),
        ("192.168.0.1/", False),
        ("192.168.0.1/33", False),
        ("192.168.0.1/a", False),
        ("192.168.0.1/01", False),
        ("01.2.3.4", False),
        ("1.2.3", False),
        ("foo", False),
    ],
)
def test_ipv4(value: str, valid: bool) -> None:
    assert is_ipv4(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", True),
        ("2001:db8::1", True),
        ("::1", True),
        ("::", True),
        ("2001:db8::/32", True),
        ("fe80:0000:0000:0000:0204:61ff:fe9d:f156/128", True),
        ("::ffff:192.0.2.1", True),
        ("foo", False),
        ("fe80:0000:0000:0000:0204:61ff:fe9d:f156/", False),
        ("fe80:0000:0000:0000:0204:61ff:fe9d:f156/129", False),
        ("fe80:0000:0000:0000:0204:61ff:fe9d:f156/a", False),
        ("fe80:0000:0000:0000:0204:61ff:fe9d:f156/00", False),
        ("fe80:0000:0000:0000:0204:61ff:fe9d:f156/03", False),
        ("1:2:3:4:5:6:7:8:9", False),
        ("198.51.100.3", False),
    ],
)
def test_ipv6(value: str, valid: bool) -> None:
    assert is_ipv6(value) is valid


def test_mac_addresses() -> None:
    assert is_mac("d2:fb:49:24:37:18")
    assert not is_mac("D2:FB:49:24:37:18")  # §6.10: lowercase
    assert not is_mac("d2-fb-49-24-37-18")
    assert not is_mac("d2:fb:49:24:37")


def test_hex_and_base64() -> None:
    assert is_hex("00000002")
    assert is_hex("DEADbeef")
    assert not is_hex("abc")
    assert not is_hex("0g")
    assert not is_hex("")
    assert is_base64("VBORw0KGgoAAAANSUhEUgAAADI==")
    assert is_base64("YWJj")
    assert not is_base64("failing test")
    assert not is_base64("YWJ")
    assert not is_base64("")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("en", True),
        ("en-US", True),
        ("es-419", True),
        ("zh-Hant-TW", True),
        ("yue", True),  # ISO 639-3
        ("eng", True),  # ISO 639-2
        ("sl-rozaj-biske", True),
        ("de-CH-1901", True),
        ("x-private", True),
        ("i-klingon", True),
        ("qaa", True),  # reserved for local use
        ("foo", False),
        ("español", False),
        ("zz", False),
        ("en_US", False),
        ("e", False),
        ("", False),
    ],
)
def test_language_tags(value: str, valid: bool) -> None:
    assert is_language_tag(value) is valid


def test_iso639_2_codes() -> None:
    assert is_iso639_2("eng")
    assert is_iso639_2("fre")  # bibliographic form
    assert is_iso639_2("fra")
    assert not is_iso639_2("en")
    assert not is_iso639_2("bbb")  # ISO 639-3 only


def test_charsets() -> None:
    assert is_charset("US-ASCII")
    assert is_charset("ISO-8859-2")
    assert is_charset("UTF-8")
    assert is_charset("windows-1252")
    assert not is_charset("bla.bla.bla")


def test_cpe() -> None:
    assert is_cpe23("cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*")
    assert is_cpe23("cpe:2.3:o:linux:linux_kernel:5.10:-:*:*:*:*:*:*")
    assert not is_cpe23("invalid")
    assert not is_cpe23("cpe:/a:microsoft:word:2000")  # CPE 2.2 URI binding
    assert not is_cpe23("cpe:2.3:a:microsoft:word")
