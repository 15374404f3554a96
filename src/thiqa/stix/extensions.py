"""Predefined extensions of SCOs (§3.10): file (§6.7.2-6.7.6), network traffic
(§6.12.2-6.12.5), process (§6.13.2, §6.13.3) and user account (§6.16.2) extensions.
"""

from __future__ import annotations

from thiqa.stix.common import at_least_one
from thiqa.stix.properties import (
    BOOLEAN,
    FLOAT,
    HEX,
    INTEGER,
    STRING,
    STRINGS,
    TIMESTAMP,
    Check,
    Problems,
    Spec,
    dictionary,
    enum,
    hashes,
    integer,
    list_of,
    nested,
    problem,
    show,
)
from thiqa.stix.vocab import (
    NETWORK_SOCKET_ADDRESS_FAMILY_ENUM,
    NETWORK_SOCKET_TYPE_ENUM,
    WINDOWS_INTEGRITY_LEVEL_ENUM,
    WINDOWS_SERVICE_START_TYPE_ENUM,
    WINDOWS_SERVICE_STATUS_ENUM,
    WINDOWS_SERVICE_TYPE_ENUM,
)

__all__ = [
    "FILE_EXTENSIONS",
    "HASHES",
    "NETWORK_TRAFFIC_EXTENSIONS",
    "NON_NEGATIVE",
    "PROCESS_EXTENSIONS",
    "REF",
    "REFS",
    "USER_ACCOUNT_EXTENSIONS",
]

HASHES = hashes()
NON_NEGATIVE = integer(0)
# References between SCOs need only be strings: in the deprecated observable container
# (§2.13) they are local keys such as "0"; `lint` reports malformed identifiers.
REF: Check = STRING
REFS: Check = STRINGS

# §6.7 File and its extensions (§6.7.2-6.7.6)
_ALTERNATE_DATA_STREAM = nested(
    Spec(props={"name": STRING, "hashes": HASHES, "size": NON_NEGATIVE}, required=("name",)),
    "an alternate-data-stream object",
)
_PE_OPTIONAL_HEADER = nested(
    Spec(
        props={
            **{
                name: HEX
                for name in (
                    "magic_hex",
                    "win32_version_value_hex",
                    "checksum_hex",
                    "subsystem_hex",
                    "dll_characteristics_hex",
                    "loader_flags_hex",
                )
            },
            **{
                name: INTEGER
                for name in (
                    "major_linker_version",
                    "minor_linker_version",
                    "address_of_entry_point",
                    "base_of_code",
                    "base_of_data",
                    "image_base",
                    "section_alignment",
                    "file_alignment",
                    "major_os_version",
                    "minor_os_version",
                    "major_image_version",
                    "minor_image_version",
                    "major_subsystem_version",
                    "minor_subsystem_version",
                    "number_of_rva_and_sizes",
                )
            },
            **{
                name: NON_NEGATIVE
                for name in (
                    "size_of_code",
                    "size_of_initialized_data",
                    "size_of_uninitialized_data",
                    "size_of_image",
                    "size_of_headers",
                    "size_of_stack_reserve",
                    "size_of_stack_commit",
                    "size_of_heap_reserve",
                    "size_of_heap_commit",
                )
            },
            "hashes": HASHES,
        }
    ),
    "a windows-pe-optional-header object",
)
_PE_SECTION = nested(
    Spec(
        props={"name": STRING, "size": NON_NEGATIVE, "entropy": FLOAT, "hashes": HASHES},
        required=("name",),
    ),
    "a windows-pe-section object",
)


def _whole_seconds(value: object) -> Problems:
    """§6.7.6: time_date_stamp is precise to the second."""
    found = TIMESTAMP(value)
    if found is None and type(value) is str and "." in value:
        return problem(f"{show(value)} must have no sub-second part (§6.7.6)")
    return found


_PE_FIELDS = (
    "imphash",
    "machine_hex",
    "number_of_sections",
    "time_date_stamp",
    "pointer_to_symbol_table_hex",
    "number_of_symbols",
    "size_of_optional_header",
    "characteristics_hex",
    "file_header_hashes",
    "optional_header",
    "sections",
)
FILE_EXTENSIONS = {
    "archive-ext": Spec(
        props={"contains_refs": REFS, "comment": STRING}, required=("contains_refs",)
    ),
    "ntfs-ext": Spec(
        props={"sid": STRING, "alternate_data_streams": list_of(_ALTERNATE_DATA_STREAM)},
        rules=(at_least_one("sid", "alternate_data_streams"),),
    ),
    "pdf-ext": Spec(
        props={
            "version": STRING,
            "is_optimized": BOOLEAN,
            "document_info_dict": dictionary(STRING),
            "pdfid0": STRING,
            "pdfid1": STRING,
        },
        rules=(at_least_one("version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"),),
    ),
    "raster-image-ext": Spec(
        props={
            "image_height": INTEGER,
            "image_width": INTEGER,
            "bits_per_pixel": INTEGER,
            "exif_tags": dictionary(),
        },
        rules=(at_least_one("image_height", "image_width", "bits_per_pixel", "exif_tags"),),
    ),
    "windows-pebinary-ext": Spec(
        props={
            "pe_type": STRING,
            "imphash": STRING,
            "machine_hex": HEX,
            "number_of_sections": NON_NEGATIVE,
            "time_date_stamp": _whole_seconds,
            "pointer_to_symbol_table_hex": HEX,
            "number_of_symbols": NON_NEGATIVE,
            "size_of_optional_header": NON_NEGATIVE,
            "characteristics_hex": HEX,
            "file_header_hashes": HASHES,
            "optional_header": _PE_OPTIONAL_HEADER,
            "sections": list_of(_PE_SECTION),
        },
        required=("pe_type",),
        rules=(at_least_one(*_PE_FIELDS),),
    ),
}

NETWORK_TRAFFIC_EXTENSIONS = {
    "http-request-ext": Spec(
        props={
            "request_method": STRING,
            "request_value": STRING,
            "request_version": STRING,
            "request_header": dictionary(),
            "message_body_length": INTEGER,
            "message_body_data_ref": REF,
        },
        required=("request_method", "request_value"),
    ),
    "icmp-ext": Spec(
        props={"icmp_type_hex": HEX, "icmp_code_hex": HEX},
        required=("icmp_type_hex", "icmp_code_hex"),
    ),
    "socket-ext": Spec(
        props={
            "address_family": enum(
                NETWORK_SOCKET_ADDRESS_FAMILY_ENUM, "network-socket-address-family-enum"
            ),
            "is_blocking": BOOLEAN,
            "is_listening": BOOLEAN,
            "options": dictionary(INTEGER),
            "socket_type": enum(NETWORK_SOCKET_TYPE_ENUM, "network-socket-type-enum"),
            "socket_descriptor": NON_NEGATIVE,
            "socket_handle": INTEGER,
        },
        required=("address_family",),
    ),
    "tcp-ext": Spec(
        props={"src_flags_hex": HEX, "dst_flags_hex": HEX},
        rules=(at_least_one("src_flags_hex", "dst_flags_hex"),),
    ),
}

# §6.13.2, §6.13.3
_WINDOWS_PROCESS = (
    "aslr_enabled",
    "dep_enabled",
    "priority",
    "owner_sid",
    "window_title",
    "startup_info",
    "integrity_level",
)
_WINDOWS_SERVICE = (
    "service_name",
    "descriptions",
    "display_name",
    "group_name",
    "start_type",
    "service_dll_refs",
    "service_type",
    "service_status",
)
PROCESS_EXTENSIONS = {
    "windows-process-ext": Spec(
        props={
            "aslr_enabled": BOOLEAN,
            "dep_enabled": BOOLEAN,
            "priority": STRING,
            "owner_sid": STRING,
            "window_title": STRING,
            "startup_info": dictionary(),
            "integrity_level": enum(WINDOWS_INTEGRITY_LEVEL_ENUM, "windows-integrity-level-enum"),
        },
        rules=(at_least_one(*_WINDOWS_PROCESS),),
    ),
    "windows-service-ext": Spec(
        props={
            "service_name": STRING,
            "descriptions": STRINGS,
            "display_name": STRING,
            "group_name": STRING,
            "start_type": enum(WINDOWS_SERVICE_START_TYPE_ENUM, "windows-service-start-type-enum"),
            "service_dll_refs": REFS,
            "service_type": enum(WINDOWS_SERVICE_TYPE_ENUM, "windows-service-type-enum"),
            "service_status": enum(WINDOWS_SERVICE_STATUS_ENUM, "windows-service-status-enum"),
        },
        rules=(at_least_one(*_WINDOWS_SERVICE),),
    ),
}
# §6.16.2
USER_ACCOUNT_EXTENSIONS = {
    "unix-account-ext": Spec(
        props={"gid": INTEGER, "groups": STRINGS, "home_dir": STRING, "shell": STRING},
        rules=(at_least_one("gid", "groups", "home_dir", "shell"),),
    )
}
