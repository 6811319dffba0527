"""A flow drawn as an SVG diagram: nodes in layers from the start, arrows for every path."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from bot.engine.definition import Flow, Node

BOX_W, BOX_H = 168, 44
GAP_X, GAP_Y = 28, 46
MARGIN = 16
MAX_LABEL = 22  # characters of an edge label shown


@dataclass(frozen=True, slots=True)
class Edge:
    """A path from one node to another (target None: the flow ends there)."""

    source: str
    target: str | None
    label: str


def edges(node: Node) -> list[Edge]:
    """Every way out of a node; answers leading to the same place share one arrow."""
    out: list[Edge] = []
    for edge in _edges(node):
        same = next((e for e in out if e.target == edge.target), None)
        if same is None:
            out.append(edge)
        elif edge.label:
            labels = ", ".join(x for x in (same.label, edge.label) if x)
            out[out.index(same)] = Edge(same.source, same.target, labels)
    return out


def _edges(node: Node) -> list[Edge]:
    out: list[Edge] = []
    if node.wait is not None:
        for key, route in node.wait.routes.items():
            out.append(Edge(node.id, route.goto, key))
    for key, route in node.cases.items():
        out.append(Edge(node.id, route.goto, key))
    if node.default is not None:
        out.append(Edge(node.id, node.default.goto, "other"))
    if node.next:
        out.append(Edge(node.id, node.next, ""))
    return out


def kind_of(node: Node) -> str:
    """What a node does, for its colour: ask, split, enter, end or step."""
    if node.wait is not None:
        return "ask"
    if node.split:
        return "split"
    if node.enter:
        return "enter"
    if node.end:
        return "end"
    return "step"


def layers(flow: Flow) -> list[list[str]]:
    """Nodes by distance from the start; nodes never reached come last."""
    depth: dict[str, int] = {flow.start: 0}
    queue = [flow.start]
    while queue:
        current = queue.pop(0)
        node = flow.nodes.get(current)
        if node is None:
            continue
        for edge in edges(node):
            if edge.target and edge.target in flow.nodes and edge.target not in depth:
                depth[edge.target] = depth[current] + 1
                queue.append(edge.target)
    deepest = max(depth.values(), default=0)
    rows: list[list[str]] = [[] for _ in range(deepest + 1)]
    for node_id in flow.nodes:
        if node_id in depth:
            rows[depth[node_id]].append(node_id)
    unreached = [n for n in flow.nodes if n not in depth]
    if unreached:
        rows.append(unreached)
    return [r for r in rows if r]


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def render_svg(flow: Flow, unreachable: set[str] | None = None) -> str:
    """The diagram as an SVG document (styled by classes from admin.css, no inline styles)."""
    rows = layers(flow)
    unreachable = unreachable or set()
    width = max(len(r) for r in rows) * (BOX_W + GAP_X) - GAP_X + 2 * MARGIN
    height = len(rows) * (BOX_H + GAP_Y) - GAP_Y + 2 * MARGIN + 24
    pos: dict[str, tuple[int, int]] = {}
    for y, row in enumerate(rows):
        offset = (width - 2 * MARGIN - (len(row) * (BOX_W + GAP_X) - GAP_X)) // 2
        for x, node_id in enumerate(row):
            pos[node_id] = (MARGIN + offset + x * (BOX_W + GAP_X), MARGIN + y * (BOX_H + GAP_Y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(flow.name)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrowhead"/></marker></defs>',
    ]
    for node in flow.nodes.values():
        x, y = pos[node.id]
        for edge in edges(node):
            if edge.target is None or edge.target not in pos:
                # The flow ends on this path: a short stub downwards.
                x1, y1 = x + BOX_W // 2, y + BOX_H
                parts.append(
                    f'<line class="edge end-edge" x1="{x1}" y1="{y1}" x2="{x1}" '
                    f'y2="{y1 + 14}" marker-end="url(#arrow)"/>'
                )
                continue
            tx, ty = pos[edge.target]
            x1, y1 = x + BOX_W // 2, y + BOX_H
            x2, y2 = tx + BOX_W // 2, ty
            if ty == y:  # a neighbour in the same row: side to side
                left = tx > x
                x1, y1 = (x + BOX_W, y + BOX_H // 2) if left else (x, y + BOX_H // 2)
                x2, y2 = (tx, ty + BOX_H // 2) if left else (tx + BOX_W, ty + BOX_H // 2)
                path = f"M{x1},{y1} L{x2},{y2}"
            elif ty < y:  # a loop back up: leave from the side
                x1, y1 = x + BOX_W, y + BOX_H // 2
                x2, y2 = tx + BOX_W, ty + BOX_H // 2
                mid = max(x1, x2) + 20
                path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
            else:
                cy = (y1 + y2) // 2
                path = f"M{x1},{y1} C{x1},{cy} {x2},{cy} {x2},{y2}"
            parts.append(f'<path class="edge" d="{path}" marker-end="url(#arrow)"/>')
            if edge.label:
                lx, ly = (x1 + x2) // 2, (y1 + y2) // 2
                label = escape(_short(edge.label))
                parts.append(f'<text class="edge-label" x="{lx}" y="{ly}">{label}</text>')
    for node in flow.nodes.values():
        x, y = pos[node.id]
        kind = kind_of(node)
        classes = f"node {kind}" + (" unreachable" if node.id in unreachable else "")
        detail = (
            node.wait.text
            if node.wait is not None
            else f"→ {node.enter}"
            if node.enter
            else f"? {node.split}"
            if node.split
            else f"end: {node.end}"
            if node.end
            else next((f"say {a.args['text']}" for a in node.actions if a.kind == "say"), "")
        )
        start = " start" if node.id == flow.start else ""
        parts.append(
            f'<g class="{classes}{start}" data-node="{escape(node.id)}">'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
            f'<text class="node-id" x="{x + 8}" y="{y + 18}">{escape(_short(node.id))}</text>'
            f'<text class="node-detail" x="{x + 8}" y="{y + 35}">{escape(_short(detail))}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
