"""Rules the reference validator applies beyond the grammar (STIX 2.1 §9).

The OASIS validator (``stix2patterns``) checks, after parsing, that a comparison on
a ``hashes`` path compares with a value of the named algorithm's form. Our
validator must accept exactly what it accepts, so the rule is reproduced as it is
implemented there, quirks included:

* the algorithm is the path's last step, upper-cased, with '-' and "'" removed;
  names outside ``_HASH_FORMS`` are not checked;
* the value checked is the constant's source text with every "'" removed (so a
  set, an ``h''`` or a ``b''`` constant is checked with its brackets or prefix);
* forms are matched at the start of the value, with ``$`` allowing one trailing
  newline; the MD6 form only requires 32 leading hex digits (or a newline, four
  spaces and 64 hex digits), because its alternatives are not grouped.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["hash_problem"]

_HEX32, _HEX40, _HEX56 = "[a-fA-F0-9]{32}", "[a-fA-F0-9]{40}", "[a-fA-F0-9]{56}"
_HEX64, _HEX96, _HEX128 = "[a-fA-F0-9]{64}", "[a-fA-F0-9]{96}", "[a-fA-F0-9]{128}"

# algorithm key -> (name in messages, form of the value)
_HASH_FORMS: Final[dict[str, tuple[str, re.Pattern[str]]]] = {
    key: (name, re.compile(form))
    for key, name, form in (
        ("MD5", "MD5", rf"{_HEX32}\n?\Z"),
        ("MD6", "MD6", rf"{_HEX32}|\n    {_HEX64}"),
        ("RIPEMD160", "RIPEMD-160", rf"{_HEX40}\n?\Z"),
        ("SHA1", "SHA-1", rf"{_HEX40}\n?\Z"),
        ("SHA224", "SHA-224", rf"{_HEX56}\n?\Z"),
        ("SHA256", "SHA-256", rf"{_HEX64}\n?\Z"),
        ("SHA384", "SHA-384", rf"{_HEX96}\n?\Z"),
        ("SHA512", "SHA-512", rf"{_HEX128}\n?\Z"),
        ("SHA3224", "SHA3-224", rf"{_HEX56}\n?\Z"),
        ("SHA3256", "SHA3-256", rf"{_HEX64}\n?\Z"),
        ("SHA3384", "SHA3-384", rf"{_HEX96}\n?\Z"),
        ("SHA3512", "SHA3-512", rf"{_HEX128}\n?\Z"),
        ("SSDEEP", "SSDEEP", r"[a-zA-Z0-9/+:.]{1,128}\n?\Z"),
        ("WHIRLPOOL", "WHIRLPOOL", rf"{_HEX128}\n?\Z"),
    )
}


def hash_problem(selector: str, value: str) -> str | None:
    """What is wrong with comparing hash ``selector`` to ``value``, or None.

    ``value`` is the constant's source text with every "'" removed.
    """
    form = _HASH_FORMS.get(selector.upper().replace("-", "").replace("'", ""))
    if form is None or form[1].match(value) is not None:
        return None
    return f"{value!r} is not a valid {form[0]} hash"
