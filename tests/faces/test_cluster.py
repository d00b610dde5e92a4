"""Clustering on synthetic embeddings: matching, Chinese whispers, stable reclustering."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from imageserver.faces.cluster import (
    Matcher,
    chinese_whispers,
    distances,
    neighbours,
    plan_recluster,
)
from tests.faces.synthetic import at_distance, faces_of, identities

EMPTY = np.zeros((0, 128), dtype=np.float32)


def test_distances_are_euclidean() -> None:
    a = np.zeros((1, 128), dtype=np.float32)
    b = np.zeros((2, 128), dtype=np.float32)
    b[0, 0], b[1, :2] = 3.0, (3.0, 4.0)
    assert distances(a, b)[0].tolist() == [3.0, 5.0]
    ids = identities(5)
    d = distances(ids, ids)
    assert np.allclose(np.diag(d), 0, atol=1e-3)
    assert d[~np.eye(5, dtype=bool)].min() > 0.8  # the fixture's identities are apart


def test_chinese_whispers_finds_the_identities() -> None:
    ids = identities(3)
    vectors = np.vstack([faces_of(ids[k], 6, seed=k) for k in range(3)])
    labels = chinese_whispers(neighbours(vectors, 0.6))
    groups = [set(labels[k * 6 : (k + 1) * 6].tolist()) for k in range(3)]
    assert all(len(g) == 1 for g in groups)
    assert len(set().union(*groups)) == 3


def test_two_faces_of_one_picture_never_share_a_label() -> None:
    base = identities(1)[0]
    vectors = faces_of(base, 4, seed=3)  # all look alike (twins, or bad small crops)
    pictures = ["p1", "p1", "p2", "p3"]
    labels = chinese_whispers(neighbours(vectors, 0.6), pictures)
    assert labels[0] != labels[1]
    without = chinese_whispers(neighbours(vectors, 0.6))
    assert len(set(without.tolist())) == 1


def create_counter() -> tuple[list[Sequence[int]], Callable[[Sequence[int]], int]]:
    made: list[Sequence[int]] = []

    def create(group: Sequence[int]) -> int:
        made.append(tuple(group))
        return 100 + len(made)

    return made, create


def test_matcher_joins_nearest_person_or_waits_for_enough_look_alikes() -> None:
    ids = identities(3)
    alice = faces_of(ids[0], 3, seed=1)
    bob = faces_of(ids[1], 3, seed=2)
    matcher = Matcher(0.6, 0.55, 2, [(1, "a0"), (1, "a1")], alice[:2], [], EMPTY)
    made, create = create_counter()
    assert matcher.place(10, "x", alice[2], create).person_id == 1
    first = matcher.place(11, "b0", bob[0], create)
    assert first.person_id is None  # one face is not a person yet
    second = matcher.place(12, "b1", bob[1], create)
    assert second.created and second.person_id == 101 and set(second.face_ids) == {11, 12}
    # The new person is matched like any other from now on.
    assert matcher.place(13, "b2", bob[2], create).person_id == 101
    stranger = matcher.place(14, "c0", faces_of(ids[2], 1, seed=9)[0], create)
    assert stranger.person_id is None
    assert made == [(12, 11)]


def test_matcher_respects_the_one_person_per_picture_rule() -> None:
    base = identities(1)[0]
    look_alikes = faces_of(base, 3, seed=4)
    matcher = Matcher(0.6, 0.55, 2, [(1, "pic")], look_alikes[:1], [], EMPTY)
    _, create = create_counter()
    # Same picture as person 1's face: must not join person 1, waits instead.
    assert matcher.place(20, "pic", look_alikes[1], create).person_id is None
    # Two loose look-alikes from one picture never make a person by themselves.
    matcher = Matcher(0.6, 0.55, 2, [], EMPTY, [(21, "group")], look_alikes[:1])
    assert matcher.place(22, "group", look_alikes[1], create).person_id is None


def test_min_faces_per_person_is_honoured() -> None:
    base = identities(1)[0]
    faces = faces_of(base, 3, seed=5)
    matcher = Matcher(0.6, 0.55, 3, [], EMPTY, [], EMPTY)
    made, create = create_counter()
    assert matcher.place(1, "p1", faces[0], create).person_id is None
    assert matcher.place(2, "p2", faces[1], create).person_id is None
    third = matcher.place(3, "p3", faces[2], create)
    assert third.created and set(third.face_ids) == {1, 2, 3}
    assert len(made) == 1


def test_recluster_keeps_named_people_pinned_faces_and_rebuilds_the_rest() -> None:
    ids = identities(4)
    alice = faces_of(ids[0], 5, seed=1)  # named person 7; one face wrongly given to bob
    bob = faces_of(ids[1], 4, seed=2)  # unnamed person 8
    carol = faces_of(ids[2], 3, seed=3)  # never grouped before
    lone = faces_of(ids[3], 1, seed=4)  # a stranger seen once
    vectors = np.vstack([alice, bob, carol, lone])
    face_ids = list(range(1, 14))
    pictures = [f"pic{i}" for i in face_ids]
    previous: list[int | None] = [7, 7, 7, 7, 8, 8, 8, 8, 8, None, None, None, 8]
    pinned = [False] * 13
    pinned[5] = True  # the user confirmed bob's second face as person 8
    plan = plan_recluster(face_ids, pictures, vectors, previous, pinned, {7}, 0.6, 0.55, 2)
    assert sorted(plan.to_person[7]) == [1, 2, 3, 4, 5]  # face 5 returns to alice
    assert sorted(plan.to_person[8]) == [7, 8, 9]  # face 6 is pinned: not in the plan
    assert [sorted(g) for g in plan.new_people] == [[10, 11, 12]]
    assert plan.unassigned == [13]  # the stranger leaves bob
    assert plan.clusters == 4


def test_recluster_keeps_a_named_person_even_as_a_single_face() -> None:
    ids = identities(2)
    vectors = np.vstack([faces_of(ids[0], 1, seed=1), faces_of(ids[1], 1, seed=2)])
    plan = plan_recluster([1, 2], ["a", "b"], vectors, [5, 6], [False, False], {5}, 0.6, 0.55, 2)
    assert plan.to_person == {5: [1]}  # named person 5 keeps its one face
    assert plan.unassigned == [2]  # unnamed person 6 had too few to stay a person


def test_recluster_of_nothing_is_empty() -> None:
    plan = plan_recluster([], [], EMPTY, [], [], set(), 0.6, 0.55, 2)
    assert plan.clusters == 0 and not plan.to_person and not plan.new_people


def test_a_borderline_pair_joins_a_person_but_does_not_start_one() -> None:
    base = identities(1)[0]
    near = at_distance(base, 0.58, seed=1)  # between FOUND (0.55) and JOIN (0.6)
    _, create = create_counter()
    alone = Matcher(0.6, 0.55, 2, [], EMPTY, [(1, "p1")], base[None, :])
    assert alone.place(2, "p2", near, create).person_id is None
    known = Matcher(0.6, 0.55, 2, [(9, "p1")], base[None, :], [], EMPTY)
    assert known.place(2, "p2", near, create).person_id == 9


def test_recluster_attaches_borderline_leftovers_to_the_nearest_person() -> None:
    ids = identities(2)
    alice = faces_of(ids[0], 3, seed=1)
    borderline = at_distance(alice[0], 0.58, seed=2)[None, :]
    twin = at_distance(alice[1], 0.58, seed=3)[None, :]  # same picture as alice's 1st face
    vectors = np.vstack([alice, borderline, twin])
    pictures = ["a", "b", "c", "d", "a"]
    plan = plan_recluster(
        [1, 2, 3, 4, 5], pictures, vectors, [None] * 5, [False] * 5, set(), 0.6, 0.55, 2
    )
    assert [sorted(g) for g in plan.new_people] == [[1, 2, 3, 4]]
    assert plan.unassigned == [5]  # the person already has a face of picture "a"
