"""Type-specific rules of STIX Cyber-observable Objects (§6) and their extensions."""

from __future__ import annotations

from typing import Any

import pytest
from test_validate_examples import DROP, example

from thiqa.stix.validate import validate

V4_ID = "--ff1e0780-358c-4808-a8c7-d0fca4ef6ef4"
MD5 = "B365B9A80A06906FC9B400C06C33FF43"
SHA256 = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"


def assert_error(obj: Any, expected: str) -> None:
    found = validate(obj)
    assert any(expected in message for message in found), (expected, found)


# -- identifiers (§2.9) ---------------------------------------------------------------------


def test_sco_without_contributing_properties_needs_a_uuidv4() -> None:
    process = example("process", id="process--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4")
    assert validate(process) == [
        "id: 'process--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4': no ID contributing property is"
        " present, so the UUID must be version 4 (§2.9)"
    ]
    x509 = example("x509-certificate", serial_number=DROP, subject="CN=example")
    assert_error(x509, "no ID contributing property is present")
    assert validate({**x509, "id": "x509-certificate" + V4_ID}) == []


def test_sco_with_contributing_properties_may_use_any_version() -> None:
    assert validate(example("ipv4-addr", id="ipv4-addr" + V4_ID)) == []
    assert validate(example("file", id="file--ff1e0780-358c-1808-a8c7-d0fca4ef6ef4")) == []


def test_sco_references_need_only_be_strings() -> None:
    # In the deprecated container references are local keys; the OASIS validator accepts
    # malformed ids in SCO references, so only `lint` reports them.
    ref = "ipv4-addr--e42c19c8-f9fe-5ae9-9fc8-22c398f78fb"
    assert validate(example("network-traffic", dst_ref=ref)) == []
    assert validate(example("network-traffic", dst_ref=7)) == ["dst_ref: 7 is not a string"]


# -- hashes (§2.7) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hashes", "message"),
    [
        ({"MD5": MD5, "MD": MD5}, "hashes.MD: hash name 'MD' must be 3-250"),
        (
            {"MD5": "B365B9A80A06906FC9B400C06C33FF4"},
            "hashes.MD5: 'B365B9A80A06906FC9B400C06C33FF4'",
        ),
        ({"SHA-1": SHA256}, "is not a valid SHA-1 value"),
        ({"SHA-256": SHA256[:-1] + "g"}, "is not a valid SHA-256 value"),
        ({"SSDEEP": "3:a b:c"}, "is not a valid SSDEEP value"),
        ({"TLSH": "abc"}, "is not a valid TLSH value"),
        ({"MD5": 5}, "hashes.MD5: 5 is not a string"),
        ({}, "hashes: empty hashes dictionary"),
        ({"a" * 251: "x"}, "must be 3-250"),
    ],
)
def test_invalid_hashes(hashes: dict[str, Any], message: str) -> None:
    assert_error(example("file", hashes=hashes), message)


def test_valid_hashes() -> None:
    hashes = {
        "MD5": MD5.lower(),
        "SHA-256": SHA256,
        "SHA3-512": "a" * 128,
        "SSDEEP": "96:s4Ud1Lj96tHHlZDrwciQmA+4uy1I0G4HYuL8N3TzS8QsO/wqWXLcMSx:sF1LjEtHHlZDrJzrhk",
        "TLSH": "T1" + "A" * 70,
        "x_foo_hash": "aaaabbbbccccddddeeeeffff0123457890",
        "sha256": "not checked: not a hash-algorithm-ov name",
    }
    assert validate(example("file", hashes=hashes)) == []


# -- artifact (§6.1) ------------------------------------------------------------------------

PAYLOAD = "VBORw0KGgoAAAANSUhEUgAAADI=="


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"payload_bin": DROP}, "exactly one of payload_bin and url is required"),
        (
            {"url": "https://example.com/x.png", "hashes": {"MD5": MD5}},
            "exactly one of payload_bin and url is required",
        ),
        (
            {"payload_bin": DROP, "url": "https://example.com/x.png"},
            "hashes: hashes is required when url is present",
        ),
        (
            {"payload_bin": DROP, "url": "www.g.com", "hashes": {"MD5": MD5}},
            "url: 'www.g.com' is not a valid URL",
        ),
        ({"payload_bin": "failing test"}, "payload_bin: 'failing test' is not base64-encoded"),
        ({"mime_type": "bla/blabla"}, "mime_type: 'bla/blabla' is not an IANA media type"),
        ({"decryption_key": "secret"}, "decryption_key requires encryption_algorithm"),
        ({"encryption_algorithm": "foo"}, "encryption_algorithm: 'foo' is not a value of"),
    ],
)
def test_invalid_artifacts(props: dict[str, Any], message: str) -> None:
    assert_error(example("artifact", **props), message)


def test_valid_artifacts() -> None:
    assert validate(example("artifact", mime_type="image/png")) == []
    encrypted = example("artifact", encryption_algorithm="AES-256-GCM", decryption_key="k")
    assert validate(encrypted) == []
    by_url = example(
        "artifact", payload_bin=DROP, url="https://example.com/x", hashes={"SHA-256": SHA256}
    )
    assert validate(by_url) == []


# -- directory, file (§6.3, §6.7) -----------------------------------------------------------


def test_character_sets() -> None:
    assert validate(example("directory", path_enc="US-ASCII")) == []
    assert validate(example("directory", path_enc="bla.bla.bla")) == [
        "path_enc: 'bla.bla.bla' is not an IANA character set name (§3.9.1)"
    ]
    assert validate(example("file", name_enc="ISO-8859-2")) == []
    assert_error(
        example("file", name_enc="ISO-8859-2", name=DROP, hashes={"MD5": MD5}),
        "name_enc: name_enc requires name (§3.1)",
    )


def test_file_rules() -> None:
    assert validate(example("file", name=DROP, id="file" + V4_ID)) == [
        "at least one of these properties is required: hashes, name"
    ]
    assert validate(example("file", name=DROP, hashes={"SHA-256": SHA256})) == []
    assert validate(example("file", size=-1)) == ["size: -1 is less than the minimum 0"]
    assert validate(example("file", magic_number_hex="ffd8")) == []
    assert validate(example("file", magic_number_hex="ffd")) == [
        "magic_number_hex: 'ffd' is not an even number of hexadecimal digits (§2.8)"
    ]
    assert validate(example("file", mime_type="bla")) == []  # a SHOULD only: lint


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ({"ntfs-ext": {"sid": 1}}, "extensions.ntfs-ext.sid: 1 is not a string"),
        ({"ntfs-ext": {"x_acme": 1}}, "extensions.ntfs-ext: at least one of these properties"),
        (
            {"ntfs-ext": {"alternate_data_streams": [{"size": 25536}]}},
            "extensions.ntfs-ext.alternate_data_streams[0].name: required property is missing",
        ),
        (
            {"archive-ext": {"comment": "zip"}},
            "extensions.archive-ext.contains_refs: required property is missing",
        ),
        (
            {"pdf-ext": {"document_info_dict": {"Title": 5}}},
            "extensions.pdf-ext.document_info_dict.Title: 5 is not a string",
        ),
        (
            {"raster-image-ext": {"image_height": "tall"}},
            "extensions.raster-image-ext.image_height: 'tall' is not an integer",
        ),
        (
            {"windows-pebinary-ext": {"pe_type": "dll", "time_date_stamp": "2016-11-31T08:17:27Z"}},
            "extensions.windows-pebinary-ext.time_date_stamp: '2016-11-31T08:17:27Z' is not a valid"
            " date",
        ),
        (
            {
                "windows-pebinary-ext": {
                    "pe_type": "dll",
                    "time_date_stamp": "2016-11-01T08:17:27.5Z",
                }
            },
            "must have no sub-second part",
        ),
        (
            {"windows-pebinary-ext": {"imphash": "x"}},
            "extensions.windows-pebinary-ext.pe_type: required property is missing",
        ),
        (
            {"windows-pebinary-ext": {"pe_type": "exe"}},
            "extensions.windows-pebinary-ext: at least one of these properties",
        ),
        (
            {"windows-pebinary-ext": {"pe_type": "exe", "sections": [{"entropy": 7.9}]}},
            "extensions.windows-pebinary-ext.sections[0].name: required property is missing",
        ),
        (
            {"windows-pebinary-ext": {"pe_type": "exe", "optional_header": {"size_of_code": -2}}},
            "extensions.windows-pebinary-ext.optional_header.size_of_code: -2 is less than",
        ),
    ],
)
def test_invalid_file_extensions(extensions: dict[str, Any], message: str) -> None:
    assert_error(example("file", extensions=extensions), message)


def test_valid_file_extensions() -> None:
    extensions = {
        "ntfs-ext": {"alternate_data_streams": [{"name": "second.stream", "size": 25536}]},
        "pdf-ext": {"version": "1.7", "document_info_dict": {"Title": "Sales"}},
        "raster-image-ext": {
            "image_height": 768,
            "exif_tags": {"Make": "Nikon", "XResolution": 4928},
        },
        "windows-pebinary-ext": {
            "pe_type": "exe",
            "machine_hex": "014c",
            "time_date_stamp": "2016-01-22T12:31:12Z",
            "file_header_hashes": {"SHA-256": SHA256},
            "optional_header": {"magic_hex": "010b", "size_of_code": 4096},
            "sections": [{"name": ".text", "size": 1, "entropy": 6.5}],
        },
        "archive-ext": {"contains_refs": ["file--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4"]},
    }
    assert validate(example("file", extensions=extensions)) == []


# -- email (§6.5, §6.6) ---------------------------------------------------------------------


def test_email_addresses() -> None:
    assert validate(example("email-addr", value="John Doe <jdoe@example.com>")) == [
        "value: 'John Doe <jdoe@example.com>' is not an email address (RFC 5322 addr-spec)"
    ]
    assert validate(example("email-addr", display_name="John Doe")) == []


def test_email_message_multipart() -> None:
    parts = [{"content_type": "text/plain", "body": "Cats are funny!"}]
    assert validate(example("email-message", body_multipart=parts)) == [
        "body_multipart: body_multipart must not be present when is_multipart is false (§6.6)"
    ]
    assert validate(example("email-message", is_multipart=True, body_multipart=parts)) == []
    assert validate(example("email-message", is_multipart=True, body="x")) == [
        "body: body must not be present when is_multipart is true (§6.6)"
    ]
    assert_error(
        example("email-message", is_multipart=True, body_multipart=[{"content_type": "image/png"}]),
        "body_multipart[0]: one of body and body_raw_ref is required",
    )
    assert_error(example("email-message", date="1997-11-31T15:55:06Z"), "date: ")


# -- addresses and URLs (§6.8-6.10, §6.15) ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("ipv4-addr", "999.999.999.999"),
        ("ipv4-addr", "192.168.0.1/33"),
        ("ipv6-addr", "fe80::1/129"),
        ("ipv6-addr", "198.51.100.3"),
        ("mac-addr", "D2:FB:49:24:37:18"),
        ("url", "foo"),
        ("url", " https://example.com"),
    ],
)
def test_invalid_values(kind: str, value: str) -> None:
    assert_error(example(kind, value=value), f"value: {value!r} is not")


# -- network traffic (§6.12) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"dst_ref": DROP}, "at least one of src_ref and dst_ref is required"),
        ({"protocols": DROP}, "protocols: required property is missing"),
        ({"src_port": 9999999}, "src_port: 9999999 is greater than the maximum 65535"),
        ({"dst_port": -1}, "dst_port: -1 is less than the minimum 0"),
        (
            {"is_active": True, "end": "2016-12-21T19:00:00Z"},
            "end: end must not be present when is_active is true",
        ),
        (
            {"start": "2016-04-06T20:06:37.000123Z", "end": "2016-04-06T20:06:37.000Z"},
            "end: '2016-04-06T20:06:37.000Z' must be later than or equal to start",
        ),
        (
            {"extensions": {"icmp-ext": {"icmp_type_hex": "08"}}},
            "extensions.icmp-ext.icmp_code_hex: required property is missing",
        ),
        (
            {"extensions": {"socket-ext": {"address_family": "AF_FOO"}}},
            "extensions.socket-ext.address_family: 'AF_FOO' is not a value of",
        ),
        (
            {"extensions": {"http-request-ext": {"request_method": "get"}}},
            "extensions.http-request-ext.request_value: required property is missing",
        ),
        (
            {"extensions": {"tcp-ext": {"src_flags_hex": "0g"}}},
            "extensions.tcp-ext.src_flags_hex: '0g' is not an even number",
        ),
    ],
)
def test_invalid_network_traffic(props: dict[str, Any], message: str) -> None:
    assert_error(example("network-traffic", **props), message)


def test_valid_network_traffic() -> None:
    extensions = {
        "http-request-ext": {
            "request_method": "get",
            "request_value": "/download.html",
            "request_header": {"Accept-Encoding": "gzip,deflate", "Host": "example.com"},
        },
        "socket-ext": {"address_family": "AF_INET", "options": {"SO_TEST": 1000}},
        "tcp-ext": {"src_flags_hex": "00000002"},
    }
    obj = example(
        "network-traffic",
        is_active=True,
        src_port=0,
        dst_port=65535,
        start="2016-04-06T20:06:37Z",
        extensions=extensions,
    )
    assert validate(obj) == []


# -- process, software, user account, registry key, certificate (§6.13-6.18) --------------------


def test_process_needs_some_property() -> None:
    assert validate(example("process", pid=DROP)) == [
        "at least one of these properties is required: extensions, is_hidden, pid, created_time,"
        " cwd, command_line, environment_variables, opened_connection_refs, creator_user_ref,"
        " image_ref, parent_ref, child_refs"
    ]
    service = {"windows-service-ext": {"service_name": "sirvizio", "start_type": "SERVICE_X"}}
    assert_error(
        example("process", extensions=service),
        "extensions.windows-service-ext.start_type: 'SERVICE_X' is not a value of",
    )


def test_software() -> None:
    assert (
        validate(
            example(
                "software",
                cpe="cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*",
                languages=["eng", "fre"],
            )
        )
        == []
    )
    assert validate(example("software", cpe="invalid")) == [
        "cpe: 'invalid' is not a CPE 2.3 formatted string (§6.14)"
    ]
    assert validate(example("software", languages=["en"])) == [
        "languages[0]: 'en' is not an ISO 639-2 language code (§6.14)"
    ]
    assert_error(example("software", languages=["bbb"]), "languages[0]: 'bbb' is not")


def test_user_account() -> None:
    assert_error(example("user-account", user_id=DROP), "at least one of these properties")
    assert validate(example("user-account", account_type="superhero")) == []  # open vocabulary
    assert_error(example("user-account", is_privileged="yes"), "is_privileged: 'yes' is not a")
    unix = {"unix-account-ext": {"gid": 1001, "groups": ["wheel"]}}
    assert validate(example("user-account", extensions=unix)) == []


@pytest.mark.parametrize(
    "key", ["HKLM\\system\\bar\\foo", "hkcu\\Software", "HKU", "HKCR\\x", "HKCC\\y"]
)
def test_registry_hives_are_spelled_out(key: str) -> None:
    assert_error(example("windows-registry-key", key=key), "abbreviates the hive")


def test_registry_values() -> None:
    values = [{"name": "Foo", "data": "qwerty", "data_type": "REG_SZ"}]
    key = "HKEY_LOCAL_MACHINE\\SOFTWARE\\HKLM-like-name"
    assert validate(example("windows-registry-key", key=key, values=values)) == []
    assert_error(
        example("windows-registry-key", values=[{"data_type": "REG_FOO"}]),
        "values[0].data_type: 'REG_FOO' is not a value of",
    )


def test_x509_certificate() -> None:
    v3 = {"private_key_usage_period_not_before": "2016-11-31T08:17:27.000000Z"}
    assert_error(
        example("x509-certificate", x509_v3_extensions=v3),
        "x509_v3_extensions.private_key_usage_period_not_before: ",
    )
    good = {
        "basic_constraints": "CA:TRUE",
        "private_key_usage_period_not_after": "2026-01-01T00:00:00Z",
    }
    assert validate(example("x509-certificate", x509_v3_extensions=good)) == []
