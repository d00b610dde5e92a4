"""Tag routes: the hierarchical tag tree, counted inside the caller's scope.

Filtering the grid by a tag is `GET /media?tag=` (media/api.py reads the tables this
feature fills). Handlers are plain `def`: FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from imageserver.auth.deps import current_user
from imageserver.curation import service
from imageserver.curation.schemas import TagNode, TagTree
from imageserver.libraries.access import UserScope
from imageserver.work.deps import ReadConn

router = APIRouter(tags=["tags"], dependencies=[Depends(current_user)])


def _node(node: service.TagNode) -> TagNode:
    return TagNode(
        name=node.name,
        path=node.path,
        count=node.count,
        children=[_node(c) for c in node.children],
    )


@router.get("/tags", response_model=TagTree)
def tags(conn: ReadConn, scope: UserScope) -> TagTree:
    """Every tag of the items the caller can see, as a tree with counts."""
    return TagTree(tags=[_node(n) for n in service.tag_tree(conn, scope)])
