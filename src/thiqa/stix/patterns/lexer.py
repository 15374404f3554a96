"""Tokenizer for STIX 2.1 patterns (STIX 2.1 §9).

One compiled regular expression produces every token. It reproduces the lexer of
the OASIS grammar (``STIXPattern.g4``) exactly, because the reference validator's
verdict depends on it:

* longest match wins, and between equally long matches the earlier grammar rule
  (so ``AND`` is a keyword but ``ANDROID`` and ``AND-x`` are identifiers, ``true``
  is a boolean, and ``b'AAA'`` — not valid base64 — is the identifier ``b`` followed
  by the string ``'AAA'``). Python's alternation takes the first branch that
  matches, so the branches are ordered to make the first match the longest;
* whitespace (a fixed set of Unicode spaces, not ``str.isspace``) and ``// …``
  comments are matched as the prefix of the next token, so they cost no loop
  iteration; ``/* … */`` comments are found with ``str.find`` (an unclosed ``/*``
  is the tokens ``/`` and ``*``);
* a character no rule accepts becomes an ``INVALID`` token, left to the parser to
  reject — the tokenizer itself never fails.

One deliberate difference in the token stream (not in any verdict): a run of
digits starting with ``0``, like ``0123``, is one ``BAD_NUMBER`` token where the
grammar sees ``0`` ``123``. Two numbers in a row never parse, and lexing the run
whole keeps the tokenizer linear: with a float branch tried at every ``0`` of a
long run of zeros, it would be quadratic. Unclosed ``/*`` are handled for the
same reason. Patterns come from untrusted feeds.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["KEYWORDS", "Token", "describe", "tokenize"]

# Token kinds. Plain ints: the parser compares them in its inner loops.
EOF: Final = 0
INT_POS: Final = 1
INT_NEG: Final = 2
FLOAT_POS: Final = 3
FLOAT_NEG: Final = 4
HEX: Final = 5
BINARY: Final = 6
STRING: Final = 7
BOOL: Final = 8
TIMESTAMP: Final = 9
AND: Final = 10
OR: Final = 11
NOT: Final = 12
FOLLOWEDBY: Final = 13
LIKE: Final = 14
MATCHES: Final = 15
ISSUPERSET: Final = 16
ISSUBSET: Final = 17
EXISTS: Final = 18
LAST: Final = 19
IN: Final = 20
START: Final = 21
STOP: Final = 22
SECONDS: Final = 23
WITHIN: Final = 24
REPEATS: Final = 25
TIMES: Final = 26
IDENT: Final = 27  # [A-Za-z_][A-Za-z0-9_]*, not a keyword
IDENT_HYPHEN: Final = 28  # an identifier with at least one '-': object types only
EQ: Final = 29
NEQ: Final = 30
LT: Final = 31
LE: Final = 32
GT: Final = 33
GE: Final = 34
QUOTE: Final = 35  # a "'" that starts no valid literal
COLON: Final = 36
DOT: Final = 37
COMMA: Final = 38
RPAREN: Final = 39
LPAREN: Final = 40
RBRACK: Final = 41
LBRACK: Final = 42
PLUS: Final = 43
MINUS: Final = 44
POWER: Final = 45
DIVIDE: Final = 46
ASTERISK: Final = 47
INVALID: Final = 48
BAD_NUMBER: Final = 49  # 0 followed by digits, not part of a float

#: (kind, text, offset of the first character)
Token = tuple[int, str, int]

_KEYWORDS: Final[dict[str, int]] = {
    "AND": AND,
    "OR": OR,
    "NOT": NOT,
    "FOLLOWEDBY": FOLLOWEDBY,
    "LIKE": LIKE,
    "MATCHES": MATCHES,
    "ISSUPERSET": ISSUPERSET,
    "ISSUBSET": ISSUBSET,
    "EXISTS": EXISTS,
    "LAST": LAST,
    "IN": IN,
    "START": START,
    "STOP": STOP,
    "SECONDS": SECONDS,
    "WITHIN": WITHIN,
    "REPEATS": REPEATS,
    "TIMES": TIMES,
    "true": BOOL,
    "false": BOOL,
}

#: Words the lexer never makes identifiers of.
KEYWORDS: Final = frozenset(_KEYWORDS)

_WS = (
    " \t\r\n\u000b\u000c\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Skipped before every token: whitespace, then any line comments each followed by
# whitespace.
_SKIP = rf"[{_WS}]*+(?://[^\r\n]*+[{_WS}]*+)*+"
_B64 = "[A-Za-z0-9+/]"
_D = "[0-9]"

# Branches that stand for several kinds; tokenize() tells them apart by the text.
_WORD: Final = -1  # keyword, boolean or identifier
_SYMBOL: Final = -2  # punctuation and comparison signs
_FLOAT: Final = -3
_INT: Final = -4
_COMMENT: Final = -5  # the "/*" opening a block comment, if it is closed

_SYMBOLS: Final[dict[str, int]] = {
    "[": LBRACK,
    "]": RBRACK,
    ":": COLON,
    "(": LPAREN,
    ")": RPAREN,
    ",": COMMA,
    "'": QUOTE,
    "*": ASTERISK,
    "^": POWER,
    "/": DIVIDE,
    ".": DOT,
    "+": PLUS,
    "-": MINUS,
    "=": EQ,
    "==": EQ,
    "!=": NEQ,
    "<>": NEQ,
    "<": LT,
    "<=": LE,
    ">": GT,
    ">=": GE,
}

# (kind, regex) in matching order; see the module docstring for why the order matters.
_RULES: Final[tuple[tuple[int, str], ...]] = (
    # An identifier, unless it is b/h/t right before a quote: a literal may follow.
    (_WORD, r"[A-Za-z_][A-Za-z0-9_\-]*+(?<![bht])(?!')"),
    (STRING, r"'[^'\\]*+(?:\\['\\][^'\\]*+)*+'"),  # else "'" is a QUOTE below
    (_COMMENT, r"/\*"),
    (_SYMBOL, r"[\[\]:(),'*^/]|==?|!=|<[>=]?|>=?|\.(?![0-9])"),
    (
        TIMESTAMP,
        rf"t'{_D}{{4}}-(?:0[1-9]|1[012])-(?:0[1-9]|[12]{_D}|3[01])"
        rf"T(?:[01]{_D}|2[0-3]):[0-5]{_D}:(?:[0-5]{_D}|60)(?:\.{_D}+)?Z'",
    ),
    (HEX, r"h'(?:[0-9A-Fa-f]{2})*+'"),
    (BINARY, rf"b'(?:{_B64}{{4}})*(?:{_B64}{{4}}|{_B64}{{3}}=|{_B64}{{2}}==)'"),
    (_WORD, r"[A-Za-z_][A-Za-z0-9_\-]*"),  # b, h or t when no literal followed
    (BAD_NUMBER, r"0[0-9]++(?!\.[0-9])"),
    (_FLOAT, rf"[+\-]?{_D}*+\.{_D}++"),
    (_INT, r"[+\-]?(?:0|[1-9][0-9]*)"),
    (_SYMBOL, r"[+\-.]"),  # when no number follows
    (EOF, r"\Z"),
    (INVALID, r"[\s\S]"),
)

_TOKEN_RE: Final = re.compile(_SKIP + "(?:" + "|".join(f"({rx})" for _, rx in _RULES) + ")")
_KIND_OF_GROUP: Final = (0, *(kind for kind, _ in _RULES))


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; the last one is always ``EOF``."""
    tokens: list[Token] = []
    append = tokens.append
    kinds = _KIND_OF_GROUP
    keywords = _KEYWORDS
    symbols = _SYMBOLS
    last_close: int | None = None  # where the last "*/" starts, once needed
    pos = 0
    while True:
        for match in _TOKEN_RE.finditer(text, pos):
            group = match.lastindex
            assert group is not None
            kind = kinds[group]
            value = match[group]
            if kind < 0:
                if kind == _WORD:
                    kind = keywords.get(value, IDENT_HYPHEN if "-" in value else IDENT)
                elif kind == _SYMBOL:
                    kind = symbols[value]
                elif kind == _FLOAT:
                    kind = FLOAT_NEG if value[0] == "-" else FLOAT_POS
                elif kind == _INT:
                    kind = INT_NEG if value[0] == "-" else INT_POS
                else:  # "/*": skip the comment if it closes, else it is '/' '*'
                    start = match.start(group)
                    if last_close is None:
                        last_close = text.rfind("*/")
                    if last_close >= start + 2:
                        pos = text.index("*/", start + 2) + 2
                        break
                    append((DIVIDE, "/", start))
                    append((ASTERISK, "*", start + 1))
                    continue
            append((kind, value, match.start(group)))
            if kind == EOF:  # after trailing whitespace, finditer would find it twice
                return tokens
        else:
            return tokens


_NAMES: Final[dict[int, str]] = {
    EOF: "the end of the pattern",
    INT_POS: "integer",
    INT_NEG: "integer",
    FLOAT_POS: "number",
    FLOAT_NEG: "number",
    BAD_NUMBER: "number with a leading zero",
    HEX: "hex literal",
    BINARY: "binary literal",
    STRING: "string",
    BOOL: "boolean",
    TIMESTAMP: "timestamp",
    IDENT: "identifier",
    IDENT_HYPHEN: "identifier",
}


def describe(token: Token, text: str) -> str:
    """How an error message names ``token`` found in ``text``."""
    kind, value, start = token
    if kind == EOF:
        return _NAMES[EOF]
    if kind == QUOTE:
        return (
            "a quote that starts no valid string "
            "(unterminated, or a backslash not followed by ' or \\)"
        )
    if kind == INVALID:
        return f"invalid character {value!r}"
    if kind == IDENT and value in ("b", "h", "t") and text.startswith("'", start + 1):
        what = {"b": "binary (base64)", "h": "hex", "t": "timestamp"}[value]
        return f"malformed {what} literal {value}'…'"
    if len(value) > 40:
        value = value[:37] + "..."
    name = _NAMES.get(kind)
    return f"{name} {value}" if name else f"'{value}'"
