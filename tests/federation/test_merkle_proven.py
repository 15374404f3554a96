"""merkle.Proven: checking the next leaves of a batch from the nodes proven so far must
never accept what folding the whole audit path would refuse."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from thiqa.federation import merkle


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _tree(size: int) -> tuple[list[bytes], list[list[bytes]]]:
    leaves = [merkle.leaf(str(i).encode()) for i in range(size)]
    return leaves, merkle.levels(leaves)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 70), learned=st.lists(st.integers(0, 69), max_size=6),
       probe=st.integers(0, 69), tamper=st.sampled_from(
           ["none", "leaf", "index", "sibling", "short", "long", "reorder"]))
def test_proven_agrees_with_the_full_fold(size: int, learned: list[int], probe: int,
                                          tamper: str) -> None:
    leaves, tree = _tree(size)
    root = tree[-1][0]
    proven = merkle.Proven(size)
    for i in {i % size for i in learned}:
        path = merkle.path(tree, i)
        proven.learn(leaves[i], i, path, [_b64(h) for h in path])
    i = probe % size
    leaf, index, path = leaves[i], i, merkle.path(tree, i)
    if tamper == "leaf":
        leaf = merkle.leaf(b"tampered")
    elif tamper == "index":
        index = (i + 1) % size
    elif tamper == "sibling" and path:
        path = [merkle.leaf(b"x"), *path[1:]]
    elif tamper == "short" and path:
        path = path[:-1]
    elif tamper == "long":
        path = [*path, root]
    elif tamper == "reorder" and len(path) > 1:
        path = [path[1], path[0], *path[2:]]
    full = merkle.root_of(leaf, index, size, path) == root
    shown = proven.reaches(leaf, index, [_b64(h) for h in path])
    assert not shown or full  # never accepts what the full fold refuses
    if not learned:
        assert not shown  # nothing proven: nothing shown


def test_proven_decides_the_neighbours_of_a_learned_leaf() -> None:
    leaves, tree = _tree(5000)
    proven = merkle.Proven(5000)
    path = merkle.path(tree, 100)
    proven.learn(leaves[100], 100, path, [_b64(h) for h in path])
    for i in (100, 101):  # the leaf itself and its sibling share every node above
        assert proven.reaches(leaves[i], i, [_b64(h) for h in merkle.path(tree, i)])
    assert not proven.reaches(leaves[101], 100, [_b64(h) for h in merkle.path(tree, 101)])
    assert not proven.reaches(merkle.leaf(b"other"), 101,
                              [_b64(h) for h in merkle.path(tree, 101)])
    # A leaf far away folds its own path until it meets the proven root.
    far = [_b64(h) for h in merkle.path(tree, 4000)]
    assert proven.reaches(leaves[4000], 4000, far)
    assert not proven.reaches(leaves[4002], 4002, [far[1], *far[1:]])
    # A malformed entry is not decided here (the caller's full fold says why).
    assert not proven.reaches(leaves[103], 103, [None, *merkle.path(tree, 103)[1:]])
