"""Canonical JSON and Merkle batches: the primitives signatures rest on."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thiqa.federation import merkle
from thiqa.signing import canonical, canonical_reference

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_fast_canonical_is_the_reference(value: object) -> None:
    assert canonical(value) == canonical_reference(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), st.text() | st.integers(-100, 100), max_size=6))
def test_canonical_does_not_depend_on_member_order(value: dict[str, object]) -> None:
    flipped = dict(reversed(list(value.items())))
    assert canonical(flipped) == canonical(value)
    assert orjson.loads(canonical(value)) == value


def test_rfc8785_numbers_and_strings() -> None:
    # RFC 8785 §3.2.2.3 and appendix B examples.
    assert canonical([1e21, 1e-7, 333333333.3333333, 100.0, -0.0, 2**60]) == \
        b"[1e+21,1e-7,333333333.3333333,100,0,1152921504606847000]"
    # UTF-16 order of member names: the emoji (surrogates D83D DE00) before U+FB33.
    assert canonical({"\u20ac": 1, "\r": 2, "\U0001f600": 3, "\ufb33": 4}) == \
        '{"\\r":2,"\u20ac":1,"\U0001f600":3,"\ufb33":4}'.encode()
    with pytest.raises(ValueError):
        canonical_reference({"x": float("nan")})
    with pytest.raises(ValueError):
        canonical({"x": b"bytes"})


@pytest.mark.parametrize("size", [*range(1, 18), 100, 5000])
def test_every_audit_path_leads_to_the_root(size: int) -> None:
    leaves = [merkle.leaf(str(i).encode()) for i in range(size)]
    tree = merkle.levels(leaves)
    root = tree[-1][0]
    for i in ([*range(size)] if size < 200 else [0, 1, size // 2, size - 2, size - 1]):
        path = merkle.path(tree, i)
        assert merkle.root_of(leaves[i], i, size, path) == root
        if size > 1:
            assert merkle.root_of(leaves[i], (i + 1) % size, size, path) != root
            assert merkle.root_of(leaves[(i + 1) % size], i, size, path) != root
            assert merkle.root_of(leaves[i], i, size, path[:-1]) is None
    assert merkle.root_of(leaves[0], size, size, []) is None
