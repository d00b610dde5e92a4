"""Grouping face embeddings into people, with numpy only (no database, no models).

Two tools: `Matcher` places new faces one at a time (the drain's incremental step), and
`plan_recluster` regroups everything with Chinese whispers (the `faces recluster` command)
while keeping people the user named, hid or confirmed faces of. Distances are euclidean
between dlib's 128-d embeddings, where 0.6 is dlib's "same person" threshold.

Two thresholds: a face *joins* a person when it is within `join` (0.6) of one of its
faces; unplaced faces *found* a new person only when they are within the stricter `found`
(0.55; dlib's own clustering example uses 0.5). Small, blurry faces of different people
often sit at 0.55-0.6 from each other; a person is not started from such a pair.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
# Rows of the distance matrix computed at once: bounds memory to ~64 MB for any size.
DISTANCE_BUDGET = 1 << 24


def distances(a: Vectors, b: Vectors) -> npt.NDArray[np.float32]:
    """Euclidean distances between every row of `a` and every row of `b`."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    result: npt.NDArray[np.float32] = np.sqrt(np.maximum(squared, 0.0))
    return result


def neighbours(vectors: Vectors, threshold: float) -> list[npt.NDArray[np.intp]]:
    """For every vector, the indices of the others within `threshold` (chunked)."""
    n = len(vectors)
    step = max(1, DISTANCE_BUDGET // max(1, n))
    found: list[npt.NDArray[np.intp]] = []
    for start in range(0, n, step):
        block = distances(vectors[start : start + step], vectors)
        for offset, row in enumerate(block):
            near = np.flatnonzero(row <= threshold)
            found.append(near[near != start + offset])
    return found


def chinese_whispers(
    adjacency: Sequence[npt.NDArray[np.intp]],
    pictures: Sequence[str] | None = None,
    iterations: int = 50,
    seed: int = 0,
) -> npt.NDArray[np.intp]:
    """Labels 0..k-1 by Chinese whispers: every node repeatedly takes the label most common
    among its neighbours (ties: the smallest), visiting nodes in a seeded random order.
    Unlike single-linkage (DBSCAN), one look-alike between two groups does not merge them.

    `pictures[i]` names the picture face i is in: two faces of one picture are two people,
    so a node never takes a label another face of its picture holds."""
    n = len(adjacency)
    labels = np.arange(n)
    siblings = _siblings(pictures) if pictures is not None else {}
    rng = np.random.default_rng(seed)
    for _ in range(iterations):
        changed = False
        for i in rng.permutation(n):
            near = adjacency[i]
            if near.size == 0:
                continue
            values, counts = np.unique(labels[near], return_counts=True)
            others = siblings.get(int(i))
            if others is not None:
                allowed = ~np.isin(values, labels[others])
                values, counts = values[allowed], counts[allowed]
                if values.size == 0:
                    continue
            best = int(values[counts == counts.max()].min())
            if best != labels[i]:
                labels[i] = best
                changed = True
        if not changed:
            break
    _, compact = np.unique(labels, return_inverse=True)
    return np.asarray(compact, dtype=np.intp)


def _siblings(pictures: Sequence[str]) -> dict[int, npt.NDArray[np.intp]]:
    """For each face in a picture with several faces, the other faces of that picture."""
    by_picture: dict[str, list[int]] = defaultdict(list)
    for index, picture in enumerate(pictures):
        by_picture[picture].append(index)
    found: dict[int, npt.NDArray[np.intp]] = {}
    for members in by_picture.values():
        if len(members) > 1:
            for index in members:
                found[index] = np.asarray([m for m in members if m != index], dtype=np.intp)
    return found


# --- incremental placement -----------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    person_id: int | None  # the person the face joined (existing or just created)
    face_ids: tuple[int, ...] = ()  # every face given to that person by this step
    created: bool = False


class Matcher:
    """Places new faces: into the person with the nearest face within `join`; else, with
    enough unplaced look-alikes within `found`, into a new person; else it waits.
    A person already holding a face of the same picture is never a candidate, and a new
    person takes at most one face per picture."""

    def __init__(
        self,
        join: float,
        found: float,
        min_faces: int,
        known: Sequence[tuple[int, str]],
        exemplars: Vectors,
        loose: Sequence[tuple[int, str]],
        loose_vectors: Vectors,
    ) -> None:
        """`known`: (person id, picture) of each exemplar; `loose`: (face id, picture)."""
        self.join = join
        self.found = found
        self.min_faces = min_faces
        self.people = np.asarray([p for p, _ in known], dtype=np.int64)
        self.people_pictures = np.asarray([h for _, h in known], dtype=object)
        self.exemplars = np.asarray(exemplars, dtype=np.float32).reshape(-1, 128)
        self.loose_ids = np.asarray([f for f, _ in loose], dtype=np.int64)
        self.loose_pictures = np.asarray([h for _, h in loose], dtype=object)
        self.loose = np.asarray(loose_vectors, dtype=np.float32).reshape(-1, 128)

    def place(
        self,
        face_id: int,
        picture: str,
        vector: Vectors,
        create: Callable[[Sequence[int]], int],
    ) -> Placement:
        """`create(face_ids)` makes a person of these faces and returns its id."""
        vector = np.asarray(vector, dtype=np.float32).reshape(1, 128)
        if len(self.exemplars):
            d = distances(vector, self.exemplars)[0]
            taken = self.people[self.people_pictures == picture]
            d[np.isin(self.people, taken)] = np.inf
            nearest = int(d.argmin())
            if d[nearest] <= self.join:
                person = int(self.people[nearest])
                self._remember(person, [picture], vector)
                return Placement(person, (face_id,))
        chosen = self._look_alikes(picture, vector)
        if len(chosen) + 1 >= self.min_faces:
            group = (face_id, *(int(i) for i in self.loose_ids[chosen]))
            person = create(group)
            pictures = [picture, *self.loose_pictures[chosen]]
            self._remember(person, pictures, np.vstack([vector, self.loose[chosen]]))
            keep = np.ones(len(self.loose_ids), dtype=bool)
            keep[chosen] = False
            self.loose_ids, self.loose = self.loose_ids[keep], self.loose[keep]
            self.loose_pictures = self.loose_pictures[keep]
            return Placement(person, group, created=True)
        self.loose_ids = np.append(self.loose_ids, face_id)
        self.loose_pictures = np.append(self.loose_pictures, np.asarray([picture], dtype=object))
        self.loose = np.vstack([self.loose, vector])
        return Placement(None)

    def _look_alikes(self, picture: str, vector: Vectors) -> list[int]:
        """Indices of loose faces within `found`, the nearest one per other picture."""
        if not len(self.loose):
            return []
        d = distances(vector, self.loose)[0]
        best: dict[str, int] = {}
        for index in np.flatnonzero(d <= self.found):
            other = str(self.loose_pictures[index])
            if other != picture and (other not in best or d[index] < d[best[other]]):
                best[other] = int(index)
        return sorted(best.values())

    def _remember(self, person: int, pictures: Sequence[str], vectors: Vectors) -> None:
        self.people = np.append(self.people, [person] * len(vectors))
        self.people_pictures = np.append(
            self.people_pictures, np.asarray(list(pictures), dtype=object)
        )
        self.exemplars = np.vstack([self.exemplars, vectors])


# --- reclustering --------------------------------------------------------------------------


@dataclass
class ReclusterPlan:
    to_person: dict[int, list[int]] = field(default_factory=dict)  # existing id -> face ids
    new_people: list[list[int]] = field(default_factory=list)  # face ids of each new person
    unassigned: list[int] = field(default_factory=list)
    clusters: int = 0


def plan_recluster(
    face_ids: Sequence[int],
    pictures: Sequence[str],
    vectors: Vectors,
    previous: Sequence[int | None],
    pinned: Sequence[bool],
    kept: set[int],
    join: float,
    found: float,
    min_faces: int,
    seed: int = 0,
) -> ReclusterPlan:
    """Regroup faces; decide where every face that is not pinned goes.

    `pictures[i]` is the picture face i is in, `previous[i]` the person it had,
    `pinned[i]` marks a user's assignment (it never moves); `kept` are people the user
    named or hid (never dissolved). Clusters come from Chinese whispers over edges shorter
    than `found`. A cluster holding pinned faces belongs to their person. Otherwise each
    person claims the free cluster holding most of its previous faces (kept people first);
    a cluster with at least `min_faces` faces that nobody claims becomes a new person. A
    face left over joins the person of its nearest placed face within `join` (as the
    incremental matcher would place it); the rest stays unassigned.
    """
    plan = ReclusterPlan()
    if not face_ids:
        return plan
    labels = chinese_whispers(neighbours(vectors, found), pictures, seed=seed)
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[int(label)].append(index)
    plan.clusters = len(members)
    claimed = _claim(members, previous, pinned, kept, min_faces)

    # Where each face goes: ("p", person id) or ("n", new person number); None: nobody.
    target: list[tuple[str, int] | None] = [None] * len(face_ids)
    for label, indices in sorted(members.items()):
        if label in claimed:
            place: tuple[str, int] | None = ("p", claimed[label])
        elif len(indices) >= min_faces:
            place = ("n", len(plan.new_people))
            plan.new_people.append([])
        else:
            place = None
        for i in indices:
            person = previous[i]
            target[i] = ("p", person) if pinned[i] and person is not None else place
    _attach_leftovers(target, pictures, vectors, join)

    for i, place in enumerate(target):
        if pinned[i] and previous[i] is not None:
            continue
        if place is None:
            plan.unassigned.append(face_ids[i])
        elif place[0] == "p":
            plan.to_person.setdefault(place[1], []).append(face_ids[i])
        else:
            plan.new_people[place[1]].append(face_ids[i])
    plan.new_people = [group for group in plan.new_people if group]
    return plan


def _claim(
    members: dict[int, list[int]],
    previous: Sequence[int | None],
    pinned: Sequence[bool],
    kept: set[int],
    min_faces: int,
) -> dict[int, int]:
    """Cluster label -> existing person: owners through pins, then best overlap."""
    owner: dict[int, int] = {}
    for label, indices in members.items():
        pins = Counter(p for i in indices if pinned[i] and (p := previous[i]) is not None)
        if pins:
            owner[label] = min(pins, key=lambda p: (-pins[p], p))
    candidates = []
    for label, indices in members.items():
        overlap = Counter(p for i in indices if (p := previous[i]) is not None)
        for person, count in overlap.items():
            candidates.append((0 if person in kept else 1, -count, person, label))
    candidates.sort()
    claimed = dict(owner)
    served: set[int] = set()
    for _, _, person, label in candidates:
        if person in served:
            continue
        if claimed.get(label) == person and label in owner:
            served.add(person)  # its best cluster is one it owns through pinned faces
        elif label not in claimed and (person in kept or len(members[label]) >= min_faces):
            claimed[label] = person
            served.add(person)
    return claimed


def _attach_leftovers(
    target: list[tuple[str, int] | None],
    pictures: Sequence[str],
    vectors: Vectors,
    join: float,
) -> None:
    """Give each unplaced face the place of its nearest placed face within `join`, unless
    that person already holds a face of the same picture."""
    placed = [i for i, t in enumerate(target) if t is not None]
    left = [i for i, t in enumerate(target) if t is None]
    if not placed or not left:
        return
    taken: dict[tuple[str, int], set[str]] = defaultdict(set)
    for i in placed:
        place = target[i]
        assert place is not None
        taken[place].add(pictures[i])
    d = distances(vectors[left], vectors[placed])
    for row in np.argsort(d.min(axis=1)):
        for column in np.argsort(d[row]):
            if d[row, column] > join:
                break
            place = target[placed[column]]
            assert place is not None
            face = left[row]
            if pictures[face] not in taken[place]:
                target[face] = place
                taken[place].add(pictures[face])
                break
