"""Pattern corpora for the differential tests against the reference validator.

* ``real_patterns()``: every ``pattern`` of an indicator with pattern_type "stix"
  (or none, as in STIX 2.0) found in the shared real data sets.
* ``generated_patterns(seed, count)``: a seeded generator that writes patterns
  straight from the grammar (STIX 2.1 §9), valid ones and ones that are subtly
  wrong (bad quotes, escapes, timestamps, base64, hex, qualifiers, operators, sets,
  whitespace, unicode, hash values …), then mutates a share of them at the
  character and token level. It never uses the code under test.
* ``reference_accepts(text)``: the verdict of ``stix2patterns`` for STIX 2.1; the
  reference raising an exception (it does on negative list indexes, on an integer
  index ending a ``hashes`` path, and on very deep nesting) counts as rejecting.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


# -- the reference ---------------------------------------------------------------


def reference_accepts(text: str) -> bool:
    from stix2patterns.validator import run_validator

    try:
        return not run_validator(text, stix_version="2.1")
    except Exception:
        return False


# -- real data -------------------------------------------------------------------


def _walk(node: Any, found: list[str]) -> None:
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if (
            isinstance(pattern, str)
            and node.get("type") == "indicator"
            and node.get("pattern_type", "stix") == "stix"
        ):
            found.append(pattern)
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)


def _documents(path: Path) -> Iterator[Any]:
    try:
        if path.name.endswith(".json.gz"):
            yield json.loads(gzip.decompress(path.read_bytes()))
        elif path.suffix == ".json":
            yield json.loads(path.read_text("utf-8"))
        elif path.suffix == ".jsonl":
            for line in path.read_text("utf-8").splitlines():
                if line.strip():
                    yield json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return  # the data sets hold a few deliberately malformed files


def real_patterns() -> dict[str, list[str]]:
    """Distinct patterns per data set (first two path levels under the data root)."""
    by_set: dict[str, list[str]] = {}
    seen: set[str] = set()
    for path in sorted(DATA.rglob("*")):
        if not path.is_file() or path.suffix not in (".json", ".jsonl", ".gz"):
            continue
        found: list[str] = []
        for document in _documents(path):
            _walk(document, found)
        name = "/".join(path.relative_to(DATA).parts[:2])
        for pattern in found:
            if pattern not in seen:
                seen.add(pattern)
                by_set.setdefault(name, []).append(pattern)
    return by_set


# -- generated patterns ----------------------------------------------------------

WHITESPACE = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "\u0085"]
NOT_WHITESPACE = ["\u200b", "\x1c", "\ufeff", "\x00"]  # isspace() for some, not for the lexer
TYPES = [
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "file",
    "network-traffic",
    "email-message",
    "email-addr",
    "windows-registry-key",
    "x509-certificate",
    "process",
    "artifact",
    "user-account",
    "mac-addr",
    "x-acme-widget",
    "x_custom",
    "_t",
    "a",
    "a-",
    "A1-b_2",
    "T",
    "t",
    "b",
    "h",
]
BAD_TYPES = ["AND", "true", "false", "NOT", "1abc", "-a", "ipv4 addr", "é", "x.y", "'file'"]
PROPERTIES = [
    "value",
    "name",
    "hashes",
    "dst_port",
    "src_ref",
    "dst_ref",
    "extensions",
    "size",
    "key",
    "values",
    "protocols",
    "body_multipart",
    "pid",
    "_x",
    "x1",
    "T",
    "t",
    "b",
    "h",
    "LIKE_x",
    "ANDx",
    "xAND",
    "TRUE",
    "True",
    "last",
    "In",
    "hash",
]
BAD_PROPERTIES = ["dst-port", "AND", "true", "IN", "1st", "SHA-256", "LAST", "FOLLOWEDBY"]
QUOTED_KEYS = ["SHA-256", "x-y", "a b", "é", "", "it\\'s", "a.b", "AND", "\\"]
HASH_NAMES = [
    "MD5",
    "md5",
    "SHA-1",
    "SHA1",
    "sha-256",
    "SHA-256",
    "SHA256",
    "SHA-512",
    "SHA3-256",
    "SHA-224",
    "SHA-384",
    "SHA3-224",
    "SHA3-384",
    "SHA3-512",
    "RIPEMD-160",
    "WHIRLPOOL",
    "SSDEEP",
    "ssdeep",
    "MD6",
    "TLSH",
    "S-H-A-1",
    "ſha1",
]
HASH_LENGTHS = [32, 40, 56, 64, 96, 128]
OPERATORS = [
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "LIKE",
    "MATCHES",
    "ISSUBSET",
    "ISSUPERSET",
    "IN",
]
BAD_OPERATORS = [
    "=<",
    "=>",
    "!",
    "===",
    "<<",
    "like",
    "Matches",
    "is",
    "~",
    "CONTAINS",
    "NOT",
    "EXISTS",
    "! =",
]
STRING_CHARS = 'abcXYZ019 .:/-_*%?[](){}"\tü日é\u200b\n'


class Generator:
    """Writes one random pattern per ``pattern()`` call, from a seeded ``Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, items: list[str]) -> str:
        return self.r.choice(items)

    def ws(self, required: bool = False) -> str:
        r = self.r.random()
        if r < 0.85:
            return " " if required else self.r.choice(["", " ", " "])
        if r < 0.97:
            return self.pick(WHITESPACE)
        if r < 0.99:
            return self.r.choice(["/* c */", "/**/", "/* [a:b = 1] */", " /*x*/ ", " // x\n"])
        return self.pick(NOT_WHITESPACE)

    # -- constants ---------------------------------------------------------------

    def string_body(self) -> str:
        r = self.r.random()
        if r < 0.6:
            n = self.r.randint(0, 12)
            return "".join(self.r.choice(STRING_CHARS) for _ in range(n))
        if r < 0.75:
            return self.r.choice(["198.51.100.1", "example.com", "http://x.test/a?b=c", "%.exe"])
        if r < 0.95:
            return self.r.choice(["it\\'s", "a\\\\b", "\\\\", "\\'", "end\\\\"])
        # subtly bad escapes: a backslash before anything else, a bare quote
        return self.r.choice(["a\\b", "\\n", "x\\", "it's", "\\\\\\", "\\u00e9"])

    def string(self) -> str:
        if self.chance(0.01):
            return self.r.choice(['"x"', "'unterminated", "'x'y'", "''''", "'a\\'"])
        return f"'{self.string_body()}'"

    def integer(self) -> str:
        r = self.r.random()
        if r < 0.6:
            return str(self.r.choice([0, 1, 7, 22, 443, 8080, 65535, 10**20]))
        if r < 0.8:
            return self.r.choice(["-1", "-0", "+5", "-443", "+0"])
        return self.r.choice(["01", "007", "1_000", "1e3", "0x1F", "--1", "+-1", "1 2"])

    def number(self) -> str:
        return self.r.choice(
            ["1.5", "0.0", ".5", "-.5", "+2.25", "007.5", "-0.1", "1.", "1.2.3", ". 5", "1e-3"]
        )

    def timestamp_body(self) -> str:
        y = self.r.choice(["2016", "1970", "9999", "0000", "201", "20166"])
        mo = self.r.choice(["01", "12", "09", "10", "11", "00", "13", "1"])
        d = self.r.choice(["01", "31", "30", "29", "19", "20", "00", "32", "1"])
        h = self.r.choice(["00", "23", "19", "20", "09", "24", "1"])
        mi = self.r.choice(["00", "59", "60", "5"])
        s = self.r.choice(["00", "59", "60", "61", "5"])
        frac = self.r.choice(["", "", ".1", ".123456789", ".", ".x"])
        z = self.r.choice(["Z", "Z", "Z", "z", "", "+00:00"])
        sep = self.r.choice(["T", "T", "T", "t", " "])
        if self.chance(0.85):  # mostly well-formed
            mo, d, h, mi, s, y = "01", "15", "12", "30", "45", "2020"
        return f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{z}"

    def timestamp(self) -> str:
        prefix = "t" if self.chance(0.93) else self.r.choice(["T", "", "ts", "t "])
        return f"{prefix}'{self.timestamp_body()}'"

    def binary(self) -> str:
        body = self.r.choice(
            [
                "AAAA",
                "AAA=",
                "AA==",
                "SGVsbG8gd29ybGQ=",
                "dGVzdA==",
                "",
                "AAA",
                "A===",
                "AAAA====",
                "AA=A",
                "YW+/",
                "a b=",
                "YWJj\nZA==",
                "AAAAAAA=",
            ]
        )
        return f"{self.r.choice(['b', 'b', 'b', 'B'])}'{body}'"

    def hex(self) -> str:
        body = self.r.choice(["", "00", "ff", "DEADbeef", "abc", "0g", "a b", "0123456789abcdef"])
        return f"{self.r.choice(['h', 'h', 'h', 'H', 'x'])}'{body}'"

    def scalar(self, allow_bool: bool = True) -> str:
        r = self.r.random()
        if r < 0.45:
            return self.string()
        if r < 0.6:
            return self.integer()
        if r < 0.68:
            return self.number()
        if r < 0.76:
            return self.timestamp()
        if r < 0.83:
            return self.binary()
        if r < 0.9:
            return self.hex()
        if r < 0.97 or not allow_bool:
            return self.r.choice(["true", "false"]) if allow_bool else self.string()
        return self.r.choice(["True", "FALSE", "null", "yes", "'true'"])

    def set_literal(self) -> str:
        r = self.r.random()
        if r < 0.08:
            return "(" + self.ws() + ")"
        if r < 0.12:
            return self.r.choice(["('a',)", "(,)", "('a' 'b')", "'a', 'b'", "(('a'))", "[1, 2]"])
        n = self.r.randint(1, 4)
        if self.chance(0.7):  # homogeneous, as real sets are
            make: Callable[[], str] = self.r.choice([self.string, self.integer, self.number])
            items = [make() for _ in range(n)]
        else:
            items = [self.scalar() for _ in range(n)]
        sep = "," + self.ws()
        return "(" + self.ws() + sep.join(items) + self.ws() + ")"

    # -- object paths ------------------------------------------------------------

    def key(self) -> str:
        r = self.r.random()
        if r < 0.85:
            return self.pick(PROPERTIES)
        if r < 0.98:
            return "'" + self.pick(QUOTED_KEYS) + "'"
        return self.pick(PROPERTIES)

    def path(self, hashes: bool = False) -> str:
        object_type = self.pick(TYPES) if self.chance(0.99) else self.pick(BAD_TYPES)
        if hashes:
            name = self.pick(HASH_NAMES)
            quoted = "-" in name or not name.isascii() or self.chance(0.5)
            step = f"'{name}'" if quoted else name
            first = self.r.choice(["hashes", "hashes", "'hashes'", "extensions.'x'.hashes"])
            tail = "" if self.chance(0.95) else self.r.choice(["[*]", "[0]", ".x"])
            return f"{object_type}:{first}.{step}{tail}"
        text = f"{object_type}{self.ws() if self.chance(0.05) else ''}:{self.key()}"
        for _ in range(self.r.choice([0, 0, 0, 1, 1, 2, 3])):
            r = self.r.random()
            if r < 0.6:
                text += "." + self.key()
            elif r < 0.95:
                text += "[" + self.r.choice(["0", "1", "*", "10", "*", "0"]) + "]"
            elif r < 0.97:
                text += "[" + self.r.choice(["-1", "+1", "01", "a", "", "1.5", "'x'"]) + "]"
            else:
                text += "." + self.pick(BAD_PROPERTIES)
        return text

    def hash_value(self) -> str:
        r = self.r.random()
        alphabet = "0123456789abcdefABCDEF"
        if r < 0.7:
            n = self.r.choice(HASH_LENGTHS)
            return "'" + "".join(self.r.choice(alphabet) for _ in range(n)) + "'"
        if r < 0.8:
            n = self.r.choice([31, 33, 39, 63, 65, 127, 129, 0])
            return "'" + "".join(self.r.choice(alphabet) for _ in range(n)) + "'"
        if r < 0.9:
            return self.r.choice(
                [
                    "'3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C'",
                    "'zz'",
                    "'96:" + "a" * 120 + "'",
                    "'" + "a" * 32 + "\n'",
                    "'" + "a" * 32 + "zz'",
                    "'\n    " + "a" * 64 + "'",
                ]
            )
        return self.scalar()

    # -- comparisons and observations --------------------------------------------

    def comparison(self) -> str:
        r = self.r.random()
        negation = "NOT" + self.ws(True) if self.chance(0.08) else ""
        spaced_negation = self.ws(True) + negation if negation else ""
        if r < 0.05:
            return f"{negation}EXISTS{self.ws(True)}{self.path()}"
        if r < 0.2:
            operator = self.r.choice(["=", "=", "!=", "IN", "LIKE"])
            value = self.hash_value() if operator != "IN" else self.set_literal()
            path = self.path(hashes=True)
            after = self.ws(operator == "LIKE")
            return f"{path}{spaced_negation or self.ws()}{operator}{after}{value}"
        operator = self.pick(BAD_OPERATORS) if r < 0.21 else self.pick(OPERATORS)
        if operator in ("LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"):
            value = self.string() if self.chance(0.9) else self.scalar()
        elif operator == "IN":
            value = self.set_literal() if self.chance(0.92) else self.scalar()
        elif operator in ("<", "<=", ">", ">="):
            value = self.scalar(allow_bool=self.chance(0.05))
        else:
            value = self.scalar() if self.chance(0.97) else self.set_literal()
        word = operator.isalpha()
        before = spaced_negation or self.ws(word)
        return f"{self.path()}{before}{operator}{self.ws(word)}{value}"

    def comparison_expression(self, depth: int = 0) -> str:
        r = self.r.random()
        if depth < 3 and r < 0.12:
            return "(" + self.ws() + self.comparison_expression(depth + 1) + self.ws() + ")"
        if depth < 3 and r < 0.4:
            n = self.r.randint(2, 3)
            joiner = (
                self.r.choice(["AND", "OR"])
                if self.chance(0.99)
                else self.r.choice(["and", "&&", "FOLLOWEDBY", ","])
            )
            parts = [self.comparison_expression(depth + 1) for _ in range(n)]
            return (self.ws(True) + joiner + self.ws(True)).join(parts)
        return self.comparison()

    def qualifier(self) -> str:
        r = self.r.random()
        if r < 0.4:
            n = self.r.choice(
                ["5", "600", "0", "1.5", ".5", "+3", "-5", "-1.5", "1e3", "'5'", "01"]
            )
            unit = "SECONDS" if self.chance(0.95) else self.r.choice(["seconds", "SECOND", ""])
            return f"WITHIN{self.ws(True)}{n}{self.ws(True)}{unit}"
        if r < 0.7:
            n = self.r.choice(["2", "5", "0", "+2", "-1", "1.5", "01", "'2'"])
            unit = "TIMES" if self.chance(0.95) else self.r.choice(["times", "TIME", ""])
            return f"REPEATS{self.ws(True)}{n}{self.ws(True)}{unit}"
        start = self.timestamp() if self.chance(0.9) else f"'{self.timestamp_body()}'"
        stop = self.timestamp() if self.chance(0.9) else self.string()
        return f"START{self.ws(True)}{start}{self.ws(True)}STOP{self.ws(True)}{stop}"

    def observation_expression(self, depth: int = 0) -> str:
        r = self.r.random()
        if depth < 3 and r < 0.1:
            text = "(" + self.ws() + self.observation_expression(depth + 1) + self.ws() + ")"
        elif depth < 3 and r < 0.3:
            n = self.r.randint(2, 3)
            joiner = self.r.choice(["AND", "OR", "FOLLOWEDBY"])
            parts = [self.observation_expression(depth + 1) for _ in range(n)]
            text = (self.ws(True) + joiner + self.ws(True)).join(parts)
            if self.chance(0.2):
                text = "(" + text + ")"
        else:
            text = "[" + self.ws() + self.comparison_expression() + self.ws() + "]"
        while self.chance(0.15):
            text += self.ws(True) + self.qualifier()
        return text

    def pattern(self) -> str:
        text = self.observation_expression()
        if self.chance(0.03):
            text = self.ws() + text + self.ws()
        if self.chance(0.35):
            text = self.mutate(text)
        return text

    # -- mutations ---------------------------------------------------------------

    def mutate(self, text: str) -> str:
        for _ in range(self.r.choice([1, 1, 1, 2, 3])):
            if not text:
                break
            i = self.r.randrange(len(text))
            r = self.r.random()
            if r < 0.2:  # delete a character
                text = text[:i] + text[i + 1 :]
            elif r < 0.4:  # insert a character
                char = self.r.choice("[]()'\\.:=!<>-+*/, \t\"_aZ09éb ht\u00a0\u200b")
                text = text[:i] + char + text[i:]
            elif r < 0.5:  # truncate
                text = text[:i]
            elif r < 0.6:  # duplicate a slice
                j = min(len(text), i + self.r.randint(1, 12))
                text = text[:j] + text[i:j] + text[j:]
            elif r < 0.7:  # swap two neighbouring words
                words = text.split(" ")
                if len(words) > 2:
                    k = self.r.randrange(len(words) - 1)
                    words[k], words[k + 1] = words[k + 1], words[k]
                text = " ".join(words)
            elif r < 0.8:  # change a keyword's case or spelling
                for word in ("AND", "OR", "WITHIN", "SECONDS", "IN", "true", "NOT", "START"):
                    if word in text:
                        text = text.replace(
                            word,
                            self.r.choice([word.lower(), word.title(), word + "S", word[:-1]]),
                            1,
                        )
                        break
            elif r < 0.9:  # drop or add a bracket
                for char in self.r.choice(["[", "]", "(", ")", "'"]):
                    k = text.find(char)
                    if k >= 0:
                        text = text[:k] + text[k + 1 :]
                    else:
                        text += char
            else:  # a signed or huge number, or a stray qualifier
                text += self.r.choice(
                    [
                        " WITHIN 5 SECONDS",
                        " REPEATS 2 TIMES",
                        " AND",
                        " -1",
                        "]",
                        " FOLLOWEDBY [a:b = 1]",
                        " //",
                    ]
                )
        return text


def generated_patterns(seed: int, count: int) -> list[str]:
    generator = Generator(random.Random(seed))
    return [generator.pattern() for _ in range(count)]


# -- hypothesis strategies -------------------------------------------------------


def pattern_strategy() -> st.SearchStrategy[str]:
    """Patterns built from the grammar's pieces, with some wrong pieces mixed in."""
    ws = st.sampled_from(["", " ", " ", "  ", "\t", "\n", "\u00a0", "/**/", "\u200b"])
    name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,4}", fullmatch=True)
    object_type = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True) | st.just("AND")
    quoted = st.text(st.sampled_from("ab-' \\é"), max_size=5).map(
        lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
    )
    string = quoted | st.from_regex(r"'[^'\\]{0,4}'", fullmatch=True) | st.just("'a\\b'")
    integer = st.integers(-99, 10**6).map(str) | st.sampled_from(["+1", "01", "-0", "1e3"])
    number = st.from_regex(r"[+-]?[0-9]{0,2}\.[0-9]{1,2}", fullmatch=True) | st.just("1.")
    timestamp = st.datetimes().map(lambda d: f"t'{d:%Y-%m-%dT%H:%M:%S}Z'") | st.from_regex(
        r"t'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?Z?'",
        fullmatch=True,
    )
    binary = st.binary(max_size=7).map(lambda b: f"b'{base64.b64encode(b).decode()}'") | (
        st.from_regex(r"b'[A-Za-z0-9+/=]{0,6}'", fullmatch=True)
    )
    hex_ = st.binary(max_size=4).map(lambda b: f"h'{b.hex()}'") | st.just("h'abc'")
    scalar = st.one_of(
        string, integer, number, timestamp, binary, hex_, st.sampled_from(["true", "false"])
    )
    hash_value = st.sampled_from([32, 40, 64, 128, 31]).map(lambda n: "'" + "a" * n + "'")
    step = st.one_of(
        name.map(lambda n: "." + n),
        quoted.map(lambda q: "." + q),
        st.sampled_from(["[0]", "[*]", "[-1]", "[01]", ".hashes.MD5", ".hashes.'SHA-1'"]),
    )
    path = st.builds(
        lambda t, k, steps: f"{t}:{k}{''.join(steps)}",
        object_type,
        name | quoted,
        st.lists(step, max_size=3),
    )
    operator = st.sampled_from([*OPERATORS, "NOT =", "NOT LIKE", "NOT IN", "=<", "like"])
    value = st.one_of(
        scalar,
        hash_value,
        st.lists(scalar, max_size=3).map(lambda items: "(" + ", ".join(items) + ")"),
    )
    comparison = st.builds(
        lambda p, w1, op, w2, v: f"{p}{w1 or ' '}{op}{w2 or ' '}{v}", path, ws, operator, ws, value
    ) | st.builds(lambda neg, p: f"{neg}EXISTS {p}", st.sampled_from(["", "NOT "]), path)

    def combine(inner: st.SearchStrategy[str], words: list[str]) -> st.SearchStrategy[str]:
        joined = st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(words), inner)
        return joined | inner.map(lambda s: f"({s})")

    comparisons = st.recursive(
        comparison, lambda inner: combine(inner, ["AND", "OR"]), max_leaves=4
    )
    qualifier = st.one_of(
        st.builds(lambda n: f"WITHIN {n} SECONDS", integer | number),
        st.builds(lambda n: f"REPEATS {n} TIMES", integer),
        st.builds(lambda a, b: f"START {a} STOP {b}", timestamp | string, timestamp),
    )
    observation = st.builds(lambda w1, c, w2: f"[{w1}{c}{w2}]", ws, comparisons, ws)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        qualified = st.builds(lambda o, q: f"{o} {q}", inner, qualifier)
        return combine(inner, ["AND", "OR", "FOLLOWEDBY"]) | qualified

    return st.recursive(observation, extend, max_leaves=4)
