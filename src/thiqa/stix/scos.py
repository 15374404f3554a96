"""STIX Cyber-observable Objects (§6): property tables.

References between SCOs (`src_ref`, `contains_refs`, ...) are only required to be strings:
inside the deprecated observable container (§2.13) they are local keys such as "0", and the
OASIS validator accepts malformed ids there; `lint` reports ids that are not well formed.
Predefined extensions are in `thiqa.stix.extensions`.
"""

from __future__ import annotations

import re

from thiqa.stix.common import at_least_one, not_before, sco_spec
from thiqa.stix.extensions import (
    FILE_EXTENSIONS,
    HASHES,
    NETWORK_TRAFFIC_EXTENSIONS,
    NON_NEGATIVE,
    PROCESS_EXTENSIONS,
    REF,
    REFS,
    USER_ACCOUNT_EXTENSIONS,
)
from thiqa.stix.formats import is_charset, is_cpe23, is_email, is_ipv4, is_ipv6, is_iso639_2, is_mac
from thiqa.stix.properties import (
    BINARY,
    BOOLEAN,
    HEX,
    INTEGER,
    STRING,
    STRINGS,
    TIMESTAMP,
    URL,
    Problems,
    Rule,
    Spec,
    TypeSpec,
    dictionary,
    enum,
    formatted,
    integer,
    list_of,
    nested,
    problem,
    show,
)
from thiqa.stix.vocab import (
    ACCOUNT_TYPE_OV,
    ENCRYPTION_ALGORITHM_ENUM,
    WINDOWS_REGISTRY_DATATYPE_ENUM,
)

__all__ = ["SCO_TYPES"]

PORT = integer(0, 65535)
CHARSET = formatted(is_charset, "an IANA character set name (§3.9.1)")


def _encoded(name: str) -> Rule:
    """§3.1: "The encoding property MUST NOT be present when the original property is not"."""

    def rule(obj: dict[str, object]) -> Problems:
        if name + "_enc" in obj and name not in obj:
            return problem(f"{name}_enc requires {name} (§3.1)", name + "_enc")
        return None

    return rule


# §6.1 Artifact
_MIME_RE = re.compile(
    r"(?:application|audio|font|image|message|model|multipart|text|video)/"
    r"[a-zA-Z0-9.+_-]+"
)


def _mime_type(value: object) -> Problems:
    if type(value) is not str:
        return problem(f"{show(value)} is not a string")
    if _MIME_RE.match(value) is None:
        return problem(f"{show(value)} is not an IANA media type of the form type/subtype")
    return None


def _artifact(obj: dict[str, object]) -> Problems:
    if ("payload_bin" in obj) == ("url" in obj):
        return problem("exactly one of payload_bin and url is required (§6.1)")
    if "url" in obj and "hashes" not in obj:
        return problem("hashes is required when url is present (§6.1)", "hashes")
    if "decryption_key" in obj and "encryption_algorithm" not in obj:
        return problem("decryption_key requires encryption_algorithm (§6.1)", "decryption_key")
    return None


ARTIFACT = TypeSpec(
    "sco",
    sco_spec(
        "artifact",
        {
            "mime_type": _mime_type,
            "payload_bin": BINARY,
            "url": URL,
            "hashes": HASHES,
            "encryption_algorithm": enum(ENCRYPTION_ALGORITHM_ENUM, "encryption-algorithm-enum"),
            "decryption_key": STRING,
        },
        rules=(_artifact,),
    ),
    id_props=("hashes", "payload_bin"),
)

# §6.2
AUTONOMOUS_SYSTEM = TypeSpec(
    "sco",
    sco_spec(
        "autonomous-system",
        {"number": INTEGER, "name": STRING, "rir": STRING},
        required=("number",),
    ),
    id_props=("number",),
)

# §6.3
DIRECTORY = TypeSpec(
    "sco",
    sco_spec(
        "directory",
        {
            "path": STRING,
            "path_enc": CHARSET,
            "ctime": TIMESTAMP,
            "mtime": TIMESTAMP,
            "atime": TIMESTAMP,
            "contains_refs": REFS,
        },
        required=("path",),
        rules=(_encoded("path"),),
    ),
    id_props=("path",),
)

# §6.4
DOMAIN_NAME = TypeSpec(
    "sco",
    sco_spec("domain-name", {"value": STRING, "resolves_to_refs": REFS}, required=("value",)),
    id_props=("value",),
)

# §6.5
EMAIL_ADDR = TypeSpec(
    "sco",
    sco_spec(
        "email-addr",
        {
            "value": formatted(is_email, "an email address (RFC 5322 addr-spec)"),
            "display_name": STRING,
            "belongs_to_ref": REF,
        },
        required=("value",),
    ),
    id_props=("value",),
)


# §6.6
def _mime_part(part: dict[str, object]) -> Problems:
    if "body" not in part and "body_raw_ref" not in part:
        return problem("one of body and body_raw_ref is required (§6.6.2)")
    return None


_MIME_PART = nested(
    Spec(
        props={
            "body": STRING,
            "body_raw_ref": REF,
            "content_type": STRING,
            "content_disposition": STRING,
        },
        rules=(_mime_part,),
    ),
    "an email MIME component object",
)


def _email_message(obj: dict[str, object]) -> Problems:
    multipart = obj.get("is_multipart")
    if multipart is True and "body" in obj:
        return problem("body must not be present when is_multipart is true (§6.6)", "body")
    if multipart is False and "body_multipart" in obj:
        return problem(
            "body_multipart must not be present when is_multipart is false (§6.6)",
            "body_multipart",
        )
    return None


EMAIL_MESSAGE = TypeSpec(
    "sco",
    sco_spec(
        "email-message",
        {
            "is_multipart": BOOLEAN,
            "date": TIMESTAMP,
            "content_type": STRING,
            "from_ref": REF,
            "sender_ref": REF,
            "to_refs": REFS,
            "cc_refs": REFS,
            "bcc_refs": REFS,
            "message_id": STRING,
            "subject": STRING,
            "received_lines": STRINGS,
            "additional_header_fields": dictionary(),
            "body": STRING,
            "body_multipart": list_of(_MIME_PART),
            "raw_email_ref": REF,
        },
        required=("is_multipart",),
        rules=(_email_message,),
    ),
    id_props=("from_ref", "subject", "body"),
)

FILE = TypeSpec(
    "sco",
    sco_spec(
        "file",
        {
            "hashes": HASHES,
            "size": NON_NEGATIVE,
            "name": STRING,
            "name_enc": CHARSET,
            "magic_number_hex": HEX,
            "mime_type": STRING,
            "ctime": TIMESTAMP,
            "mtime": TIMESTAMP,
            "atime": TIMESTAMP,
            "parent_directory_ref": REF,
            "contains_refs": REFS,
            "content_ref": REF,
        },
        rules=(at_least_one("hashes", "name"), _encoded("name")),
        predefined=FILE_EXTENSIONS,
    ),
    id_props=("hashes", "name", "extensions", "parent_directory_ref"),
    vocabs={},
    extensions=FILE_EXTENSIONS,
)

# §6.8, §6.9, §6.10
IPV4_ADDR = TypeSpec(
    "sco",
    sco_spec(
        "ipv4-addr",
        {
            "value": formatted(is_ipv4, "an IPv4 address or CIDR block (§6.8)"),
            "resolves_to_refs": REFS,
            "belongs_to_refs": REFS,
        },
        required=("value",),
    ),
    id_props=("value",),
)
IPV6_ADDR = TypeSpec(
    "sco",
    sco_spec(
        "ipv6-addr",
        {
            "value": formatted(is_ipv6, "an IPv6 address or CIDR block (§6.9)"),
            "resolves_to_refs": REFS,
            "belongs_to_refs": REFS,
        },
        required=("value",),
    ),
    id_props=("value",),
)
MAC_ADDR = TypeSpec(
    "sco",
    sco_spec(
        "mac-addr",
        {"value": formatted(is_mac, "a lowercase colon-delimited MAC-48 address (§6.10)")},
        required=("value",),
    ),
    id_props=("value",),
)

# §6.11
MUTEX = TypeSpec("sco", sco_spec("mutex", {"name": STRING}, required=("name",)), id_props=("name",))


# §6.12 Network Traffic and its extensions (§6.12.2-6.12.5)
def _network_traffic(obj: dict[str, object]) -> Problems:
    if "src_ref" not in obj and "dst_ref" not in obj:
        return problem("at least one of src_ref and dst_ref is required (§6.12)")
    if obj.get("is_active") is True and "end" in obj:
        return problem("end must not be present when is_active is true (§6.12)", "end")
    return None


NETWORK_TRAFFIC = TypeSpec(
    "sco",
    sco_spec(
        "network-traffic",
        {
            "start": TIMESTAMP,
            "end": TIMESTAMP,
            "is_active": BOOLEAN,
            "src_ref": REF,
            "dst_ref": REF,
            "src_port": PORT,
            "dst_port": PORT,
            "protocols": STRINGS,
            "src_byte_count": INTEGER,
            "dst_byte_count": INTEGER,
            "src_packets": INTEGER,
            "dst_packets": INTEGER,
            "ipfix": dictionary(),
            "src_payload_ref": REF,
            "dst_payload_ref": REF,
            "encapsulates_refs": REFS,
            "encapsulated_by_ref": REF,
        },
        required=("protocols",),
        rules=(_network_traffic, not_before("start", "end")),
        predefined=NETWORK_TRAFFIC_EXTENSIONS,
    ),
    id_props=(
        "start",
        "end",
        "src_ref",
        "dst_ref",
        "src_port",
        "dst_port",
        "protocols",
        "extensions",
    ),
    extensions=NETWORK_TRAFFIC_EXTENSIONS,
)

# §6.13 Process and its extensions (§6.13.2, §6.13.3)
_PROCESS_FIELDS = (
    "extensions",
    "is_hidden",
    "pid",
    "created_time",
    "cwd",
    "command_line",
    "environment_variables",
    "opened_connection_refs",
    "creator_user_ref",
    "image_ref",
    "parent_ref",
    "child_refs",
)
PROCESS = TypeSpec(
    "sco",
    sco_spec(
        "process",
        {
            "is_hidden": BOOLEAN,
            "pid": INTEGER,
            "created_time": TIMESTAMP,
            "cwd": STRING,
            "command_line": STRING,
            "environment_variables": dictionary(STRING),
            "opened_connection_refs": REFS,
            "creator_user_ref": REF,
            "image_ref": REF,
            "parent_ref": REF,
            "child_refs": REFS,
        },
        rules=(at_least_one(*_PROCESS_FIELDS),),
        predefined=PROCESS_EXTENSIONS,
    ),
    extensions=PROCESS_EXTENSIONS,
)


# §6.14
def _languages(value: object) -> Problems:
    if type(value) is not str:
        return problem(f"{show(value)} is not a string")
    if not is_iso639_2(value):
        return problem(f"{show(value)} is not an ISO 639-2 language code (§6.14)")
    return None


SOFTWARE = TypeSpec(
    "sco",
    sco_spec(
        "software",
        {
            "name": STRING,
            "cpe": formatted(is_cpe23, "a CPE 2.3 formatted string (§6.14)"),
            "swid": STRING,
            "languages": list_of(_languages),
            "vendor": STRING,
            "version": STRING,
        },
        required=("name",),
    ),
    id_props=("name", "cpe", "swid", "vendor", "version"),
)

# §6.15
URL_SCO = TypeSpec("sco", sco_spec("url", {"value": URL}, required=("value",)), id_props=("value",))

# §6.16 User Account and its extension (§6.16.2)
_USER_ACCOUNT = {
    "user_id": STRING,
    "credential": STRING,
    "account_login": STRING,
    "account_type": STRING,
    "display_name": STRING,
    "is_service_account": BOOLEAN,
    "is_privileged": BOOLEAN,
    "can_escalate_privs": BOOLEAN,
    "is_disabled": BOOLEAN,
    "account_created": TIMESTAMP,
    "account_expires": TIMESTAMP,
    "credential_last_changed": TIMESTAMP,
    "account_first_login": TIMESTAMP,
    "account_last_login": TIMESTAMP,
}
USER_ACCOUNT = TypeSpec(
    "sco",
    sco_spec(
        "user-account",
        _USER_ACCOUNT,
        rules=(at_least_one("extensions", *_USER_ACCOUNT),),
        predefined=USER_ACCOUNT_EXTENSIONS,
    ),
    vocabs={"account_type": ACCOUNT_TYPE_OV},
    id_props=("account_type", "user_id", "account_login"),
    extensions=USER_ACCOUNT_EXTENSIONS,
)

# §6.17 Windows Registry Key
# "key MUST be stored in full and not abbreviated" (HKEY_LOCAL_MACHINE, not HKLM).
_ABBREVIATED_HIVE_RE = re.compile(r"(?:HKLM|HKCC|HKCR|HKCU|HKU)(?:\\|$)", re.IGNORECASE)


def _registry_key(value: object) -> Problems:
    if type(value) is not str:
        return problem(f"{show(value)} is not a string")
    if _ABBREVIATED_HIVE_RE.match(value) is not None:
        return problem(f"{show(value)} abbreviates the hive; spell it out, e.g. HKEY_LOCAL_MACHINE")
    return None


_REGISTRY_VALUE = nested(
    Spec(
        props={
            "name": STRING,
            "data": STRING,
            "data_type": enum(WINDOWS_REGISTRY_DATATYPE_ENUM, "windows-registry-datatype-enum"),
        },
        rules=(at_least_one("name", "data", "data_type"),),
    ),
    "a windows-registry-value object",
)
WINDOWS_REGISTRY_KEY = TypeSpec(
    "sco",
    sco_spec(
        "windows-registry-key",
        {
            "key": _registry_key,
            "values": list_of(_REGISTRY_VALUE),
            "modified_time": TIMESTAMP,
            "creator_user_ref": REF,
            "number_of_subkeys": INTEGER,
        },
        rules=(
            at_least_one("key", "values", "modified_time", "creator_user_ref", "number_of_subkeys"),
        ),
    ),
    id_props=("key", "values"),
)

# §6.18 X.509 Certificate
_X509_V3_STRINGS = (
    "basic_constraints",
    "name_constraints",
    "policy_constraints",
    "key_usage",
    "extended_key_usage",
    "subject_key_identifier",
    "authority_key_identifier",
    "subject_alternative_name",
    "issuer_alternative_name",
    "subject_directory_attributes",
    "crl_distribution_points",
    "inhibit_any_policy",
    "certificate_policies",
    "policy_mappings",
)
_X509_V3 = nested(
    Spec(
        props={
            **dict.fromkeys(_X509_V3_STRINGS, STRING),
            "private_key_usage_period_not_before": TIMESTAMP,
            "private_key_usage_period_not_after": TIMESTAMP,
        },
        rules=(
            at_least_one(
                *_X509_V3_STRINGS,
                "private_key_usage_period_not_before",
                "private_key_usage_period_not_after",
            ),
        ),
    ),
    "an x509-v3-extensions object",
)
_X509 = {
    "is_self_signed": BOOLEAN,
    "hashes": HASHES,
    "version": STRING,
    "serial_number": STRING,
    "signature_algorithm": STRING,
    "issuer": STRING,
    "validity_not_before": TIMESTAMP,
    "validity_not_after": TIMESTAMP,
    "subject": STRING,
    "subject_public_key_algorithm": STRING,
    "subject_public_key_modulus": STRING,
    "subject_public_key_exponent": INTEGER,
    "x509_v3_extensions": _X509_V3,
}
X509_CERTIFICATE = TypeSpec(
    "sco",
    sco_spec("x509-certificate", _X509, rules=(at_least_one(*_X509),)),
    id_props=("hashes", "serial_number"),
)

SCO_TYPES: dict[str, TypeSpec] = {
    "artifact": ARTIFACT,
    "autonomous-system": AUTONOMOUS_SYSTEM,
    "directory": DIRECTORY,
    "domain-name": DOMAIN_NAME,
    "email-addr": EMAIL_ADDR,
    "email-message": EMAIL_MESSAGE,
    "file": FILE,
    "ipv4-addr": IPV4_ADDR,
    "ipv6-addr": IPV6_ADDR,
    "mac-addr": MAC_ADDR,
    "mutex": MUTEX,
    "network-traffic": NETWORK_TRAFFIC,
    "process": PROCESS,
    "software": SOFTWARE,
    "url": URL_SCO,
    "user-account": USER_ACCOUNT,
    "windows-registry-key": WINDOWS_REGISTRY_KEY,
    "x509-certificate": X509_CERTIFICATE,
}
