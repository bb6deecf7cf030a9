import type { Transaction } from "lmdb";
import { yieldEvery, type Steps } from "../concurrency/cooperative.js";
import type { LeaseRecord } from "../events/lease-events.js";
import { ingestsDb, type IngestRow } from "../projections/content.js";
import { EdgeKind, gcDirtyDb, gcNode, gcReferrers, type GcDirtyRow, type GcNodeRow } from "../projections/gc-references.js";
import { compareUtf8 } from "../projections/label-index.js";
import { leasesDb } from "../projections/leases.js";
import type { ViewStore } from "../projections/view-store.js";
import { GcLabel, ingestUnexpired, leaseExpired, NextExpiry } from "./labels.js";
import { ResourceType } from "./model.js";
import { childrenFirst, type Removal } from "./sweep.js";

/** What a sweep needs from a plan, however it was made. */
export interface SweepPlan {
  removals: Removal[];
  /** Each namespace's applied sequence in the snapshot planned from: the sweep's OCC expectations. */
  rvs: Map<string, number>;
  /** Ingest ref → ingest id (its bytes' directory), per namespace. */
  ingestIds: Map<string, Map<string, string>>;
  nextExpiry?: number;
  /** Made from the dirty set alone (else from the whole graph). */
  incremental: boolean;
  /** The dirty rows the plan covered, as it read them: cleared after its sweep succeeds. */
  dirty: Array<{ key: [string, string]; seq: number }>;
}

export interface IncrementalPlanInput {
  views: ViewStore;
  transaction: Transaction;
  now: Date;
  applied: (namespace: string) => number;
  onInvalidExpire: (namespace: string, lease: string, value: string) => void;
  /** Dirty objects, or objects to re-mark, beyond which a full plan is cheaper. */
  limit: number;
}

/**
 * How an object is reached, ordered (a stronger reach replaces a weaker):
 * not at all, only through a `gc.flat` lease (parents only, containerd's
 * flat flavour), or fully (labels, parents and expected blobs are followed).
 */
const Reach = { None: 0, Flat: 1, Full: 2 } as const;
type Reach = (typeof Reach)[keyof typeof Reach];

interface Node {
  ns: string;
  id: string;
  row: GcNodeRow | undefined;
  mark: Reach;
}

/**
 * A sweep plan from what changed since the last successful sweep
 * (docs/gc.md "Incremental collection"). Every object that is not dirty was
 * reachable then, and every edge on its path from a root is unchanged (a
 * changed object is dirty, so is the target of a removed edge). So only the
 * objects reachable from the dirty ones — plus what time alone changes:
 * every ingest, and what expired leases hold — can have become garbage.
 * Those (A) are marked again: from their own root status, from referrers
 * outside A (reachable, hence roots for this purpose), then along edges
 * inside A, with containerd's flat and non-flat flavours.
 *
 * Returns undefined when a full plan must decide: too much changed, or a
 * referrer outside A may be reachable only flat (its label edges may not
 * count), which only a full mark can tell.
 */
export function* incrementalPlanSteps(input: IncrementalPlanInput): Steps<SweepPlan | undefined> {
  const { views, transaction, now, limit } = input;
  const range = { transaction };
  const seeds: Array<[string, string]> = [];
  const namespaces = new Set<string>();
  const dirty = yield* readDirtySteps(views, transaction, limit);
  if (!dirty) return undefined;
  let n = 0;
  for (const d of dirty) {
    seeds.push([d.key[0], d.id]);
    namespaces.add(d.key[0]);
  }

  const next = new NextExpiry(now);

  // Leases: few, read whole. An expired one goes, and what it held is looked at again.
  const live = new Set<string>();
  const expiredLeases: Array<[string, string]> = [];
  const flatHeld: Array<[string, string]> = [];
  for (const { key, value } of views.db<LeaseRecord>(leasesDb).getRange(range)) {
    if (++n % yieldEvery === 0) yield;
    const [ns, id] = key as [string, string];
    const labels = value.labels ?? {};
    next.consider(labels[GcLabel.Expire]);
    const row = gcNode(views, ns, `l:${id}`, transaction);
    if (leaseExpired(labels, now, (v) => input.onInvalidExpire(ns, id, v))) {
      expiredLeases.push([ns, id]);
      namespaces.add(ns);
      for (const [to] of row?.edges ?? []) seeds.push([ns, to]);
    } else {
      live.add(`${ns}\u0000l:${id}`);
      for (const [to, kind] of row?.edges ?? []) if (kind === EdgeKind.FlatLease) flatHeld.push([ns, to]);
    }
  }

  // Ingests: every one, as time alone ends an ingest's expiry.
  const ingestIds = new Map<string, Map<string, string>>();
  const ingestRoots = new Set<string>();
  for (const { key, value } of views.db<IngestRow>(ingestsDb).getRange(range)) {
    const [ns, ref] = key as [string, string];
    seeds.push([ns, `i:${ref}`]);
    namespaces.add(ns);
    let ids = ingestIds.get(ns);
    if (!ids) ingestIds.set(ns, (ids = new Map()));
    ids.set(ref, value.id);
    next.consider(value.expireAt);
    if (ingestUnexpired(value.expireAt, now)) ingestRoots.add(`${ns}\u0000i:${ref}`);
  }

  // What flat leases reach (their snapshots' parents, flat): a referrer in it may count only flat.
  const flatReach = new Set<string>();
  const flatStack = [...flatHeld];
  while (flatStack.length > 0) {
    if (++n % yieldEvery === 0) yield;
    const [ns, id] = flatStack.pop()!;
    const at = `${ns}\u0000${id}`;
    if (flatReach.has(at)) continue;
    flatReach.add(at);
    if (flatReach.size > limit) return undefined;
    for (const [to, kind] of gcNode(views, ns, id, transaction)?.edges ?? []) if (kind === EdgeKind.Parent) flatStack.push([ns, to]);
  }

  // A: everything reachable from the seeds.
  const area = new Map<string, Node>();
  const stack = seeds;
  while (stack.length > 0) {
    if (++n % yieldEvery === 0) yield;
    const [ns, id] = stack.pop()!;
    const at = `${ns}\u0000${id}`;
    if (area.has(at)) continue;
    const row = gcNode(views, ns, id, transaction);
    area.set(at, { ns, id, row, mark: Reach.None });
    if (area.size > limit) return undefined;
    for (const [to] of row?.edges ?? []) stack.push([ns, to]);
  }

  // The marks A starts from: its own roots, and edges from outside it.
  const gray: Node[] = [];
  for (const [at, node] of area) {
    if (!node.row) continue;
    if (++n % yieldEvery === 0) yield;
    let mark: Reach = node.row.root || ingestRoots.has(at) ? Reach.Full : Reach.None;
    if (mark !== Reach.Full) {
      for (const [from, kind] of gcReferrers(views, node.ns, node.id, transaction)) {
        if (++n % yieldEvery === 0) yield;
        const source = `${node.ns}\u0000${from}`;
        let reached: Reach = Reach.None;
        switch (kind) {
          case EdgeKind.Owner:
            reached = Reach.Full;
            break;
          case EdgeKind.Lease:
          case EdgeKind.FlatLease:
            if (live.has(source)) reached = kind === EdgeKind.Lease ? Reach.Full : Reach.Flat;
            break;
          case EdgeKind.Label:
          case EdgeKind.Parent:
            // Inside A the walk below decides; outside, the source is reachable.
            if (area.has(source)) break;
            if (flatReach.has(source)) return undefined;
            reached = Reach.Full;
            break;
          default:
            break; // Expected: every ingest is in A.
        }
        if (reached > mark) mark = reached;
        if (mark === Reach.Full) break;
      }
    }
    if (mark > Reach.None) {
      node.mark = mark;
      gray.push(node);
    }
  }

  // The walk inside A: non-flat follows labels, parents and expected blobs; flat only parents.
  while (gray.length > 0) {
    if (++n % yieldEvery === 0) yield;
    const node = gray.pop()!;
    for (const [to, kind] of node.row?.edges ?? []) {
      if (node.mark !== Reach.Full && kind !== EdgeKind.Parent) continue;
      const target = area.get(`${node.ns}\u0000${to}`);
      if (!target || !target.row) continue;
      const mark = kind === EdgeKind.Parent ? node.mark : Reach.Full;
      if (mark > target.mark) {
        target.mark = mark;
        gray.push(target);
      }
    }
  }

  // What goes, in the full sweep's order (sweep.ts unreachableSteps).
  const dead = new Map<string, { leases: string[]; ingests: string[]; content: string[]; snapshots: Array<{ snapshotter: string; key: string; parent?: string }> }>();
  const of = (ns: string) => {
    let d = dead.get(ns);
    if (!d) dead.set(ns, (d = { leases: [], ingests: [], content: [], snapshots: [] }));
    return d;
  };
  for (const [ns, id] of expiredLeases) of(ns).leases.push(id);
  for (const node of area.values()) {
    if (!node.row || node.mark > 0) continue;
    const rest = node.id.slice(2);
    if (node.id.startsWith("c:")) of(node.ns).content.push(rest);
    else if (node.id.startsWith("i:")) of(node.ns).ingests.push(rest);
    else if (node.id.startsWith("s:")) {
      const slash = rest.indexOf("/");
      const snapshotter = rest.slice(0, slash);
      const parent = node.row.edges.find(([, kind]) => kind === EdgeKind.Parent)?.[0];
      of(node.ns).snapshots.push({ snapshotter, key: rest.slice(slash + 1), ...(parent ? { parent: parent.slice(2 + snapshotter.length + 1) } : {}) });
    }
  }
  const removals: Removal[] = [];
  for (const ns of [...dead.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const d = dead.get(ns)!;
    for (const id of d.leases.sort(compareUtf8)) removals.push({ type: ResourceType.Lease, namespace: ns, key: id });
    for (const ref of d.ingests.sort(compareUtf8)) removals.push({ type: ResourceType.Ingest, namespace: ns, key: ref });
    for (const digest of d.content.sort(compareUtf8)) removals.push({ type: ResourceType.Content, namespace: ns, key: digest });
    const snapshots = d.snapshots.sort((a, b) => compareUtf8(a.snapshotter, b.snapshotter) || compareUtf8(a.key, b.key));
    for (const s of childrenFirst(snapshots)) removals.push({ type: ResourceType.Snapshot, namespace: ns, key: `${s.snapshotter}/${s.key}` });
  }

  const rvs = new Map<string, number>();
  for (const ns of namespaces) rvs.set(ns, input.applied(ns));
  const nextExpiry = next.value;
  return { removals, rvs, ingestIds, incremental: true, dirty, ...(nextExpiry === undefined ? {} : { nextExpiry }) };
}

/** The dirty rows as `transaction` sees them; undefined when there are more than `limit`. */
export function* readDirtySteps(views: ViewStore, transaction: Transaction, limit = Infinity): Steps<Array<{ key: [string, string]; id: string; seq: number }> | undefined> {
  const out: Array<{ key: [string, string]; id: string; seq: number }> = [];
  for (const { key, value } of views.db<GcDirtyRow>(gcDirtyDb).getRange({ transaction })) {
    if (out.length >= limit) return undefined;
    if (out.length % yieldEvery === 0) yield;
    out.push({ key: key as [string, string], id: value.id, seq: value.seq });
  }
  return out;
}

/**
 * Forgets the dirty rows a successful sweep's plan covered, except those an
 * event made dirty again since (their seq moved on). In write transactions
 * of a thousand rows, giving the event loop back in between.
 */
export async function clearDirty(views: ViewStore, covered: ReadonlyArray<{ key: [string, string]; seq: number }>): Promise<void> {
  const db = views.db<GcDirtyRow>(gcDirtyDb);
  for (let from = 0; from < covered.length; from += 1000) {
    views.root.transactionSync(() => {
      for (const { key, seq } of covered.slice(from, from + 1000)) if (db.get(key)?.seq === seq) db.removeSync(key);
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
