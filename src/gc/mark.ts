import { runToEnd, yieldEvery, type Steps } from "../concurrency/cooperative.js";
import type { Edge } from "./graph.js";
import { nodeId, type GcNode } from "./model.js";

/** How a node was first reached: from which node (undefined for a root) and why. */
export interface Reach {
  node: GcNode;
  from?: string;
  reason: string;
}

/**
 * containerd's `gc.Tricolor`: a gray stack seeded with the roots; each node is
 * expanded once per flavour (flat and non-flat are distinct while walking, as
 * the type bits differ) and marked black with the flat bit stripped. Returns
 * the black set keyed by {@link nodeId}, each with how it was first reached.
 */
export function mark(roots: readonly Edge[], references: (n: GcNode) => Edge[]): Map<string, Reach> {
  return runToEnd(markSteps(roots, references));
}

/** {@link mark}, yielding every few hundred nodes (concurrency/cooperative.ts). */
export function* markSteps(roots: readonly Edge[], references: (n: GcNode) => Edge[]): Steps<Map<string, Reach>> {
  const black = new Map<string, Reach>();
  const seen = new Set<string>();
  const gray: Array<{ edge: Edge; from?: string }> = roots.map((edge) => ({ edge })).reverse();
  let visited = 0;
  while (gray.length > 0) {
    if (++visited % yieldEvery === 0) yield;
    const { edge, from } = gray.pop()!;
    const id = nodeId(edge.node);
    const flavour = `${edge.node.flat ? 1 : 0}${id}`;
    if (from !== undefined || !seen.has(flavour)) {
      seen.add(flavour);
      for (const next of references(edge.node)) {
        const key = `${next.node.flat ? 1 : 0}${nodeId(next.node)}`;
        if (!seen.has(key)) {
          seen.add(key);
          gray.push({ edge: next, from: id });
        }
      }
    }
    if (!black.has(id)) black.set(id, { node: { ...edge.node, flat: undefined }, from, reason: edge.reason });
  }
  return black;
}

/** The chain of reasons from a root to the node, root first; undefined when it is garbage. */
export function explain(black: ReadonlyMap<string, Reach>, node: GcNode): Reach[] | undefined {
  let at = black.get(nodeId(node));
  if (!at) return undefined;
  const path: Reach[] = [];
  const guard = new Set<string>();
  while (at) {
    path.unshift(at);
    if (at.from === undefined || guard.has(at.from)) break;
    guard.add(at.from);
    at = black.get(at.from);
  }
  return path;
}
