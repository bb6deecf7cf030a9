import type { LeaseRecord } from "../events/lease-events.js";
import type { SnapshotRecord } from "../events/snapshot-events.js";
import { allContainers, containersDb } from "../projections/containers.js";
import { allContent, blobHoldersDb, contentDb, ingestsDb, type IngestRow } from "../projections/content.js";
import { gcDirtyDb, gcNodesDb, gcReferrersDb } from "../projections/gc-references.js";
import { allImages, imagesDb } from "../projections/images.js";
import { leaseResourcesDb, leasesDb } from "../projections/leases.js";
import { snapshotsDb } from "../projections/snapshots.js";
import type { ViewStore } from "../projections/view-store.js";
import type { Transaction } from "lmdb";
import { runToEnd, yieldEvery, type Steps } from "../concurrency/cooperative.js";
import type { GcContainer, GcContent, GcImage, GcIngest, GcLease, GcSnapshot, HostObjects, NamespaceObjects } from "./model.js";

/**
 * The reference-graph projection's state, read from the views.
 *
 * The views already hold every node and edge the collector needs (docs/gc.md
 * "Why no gc-* database"): images, containers, content, ingests, snapshots,
 * leases and lease resources, each keyed `[namespace, …]`. This reads them all
 * from one consistent snapshot of the views: in one synchronous pass (no
 * projection batch can be applied in between), or in slices inside one LMDB
 * read transaction (the collector: batches committed meanwhile are not
 * seen). The namespaces' applied rvs read from the same snapshot are the
 * sequences it reflects — the OCC expectations of the sweep's deletes.
 */
export interface GraphSnapshot {
  objects: HostObjects;
  /** Each namespace's applied stream sequence at the time of the read. */
  rvs: Map<string, number>;
  /** Ingest ref → ingest id (its bytes' directory), per namespace. */
  ingestIds: Map<string, Map<string, string>>;
  /** Every ingest's expected digest (shared or not): blob files they protect. */
  expectedDigests: Set<string>;
  /** `<snapshotter>\0<dir>` of every live snapshot record: backend directories in use. */
  liveDirs: Set<string>;
  /** Snapshot `<snapshotter>/<key>` → its record's directory, per namespace. */
  snapshotDirs: Map<string, Map<string, string>>;
}

interface Mutable {
  images: GcImage[];
  containers: GcContainer[];
  content: GcContent[];
  ingests: GcIngest[];
  snapshots: GcSnapshot[];
  leases: GcLease[];
}

/**
 * Reads the graph from the views. `applied(ns)` is the runtime's applied
 * sequence; it is read for every namespace seen, within the same tick.
 */
/**
 * Opens every database the collector reads. A read transaction sees only the
 * databases opened before it began (one opened later is "Invalid argument"
 * in it), so the collector calls this before it starts one.
 */
export function openGraphDatabases(views: ViewStore): void {
  for (const name of [imagesDb, containersDb, contentDb, ingestsDb, blobHoldersDb, snapshotsDb, leasesDb, leaseResourcesDb, gcNodesDb, gcReferrersDb, gcDirtyDb]) views.db(name);
}

export function readGraph(views: ViewStore, applied: (namespace: string) => number): GraphSnapshot {
  return runToEnd(readGraphSteps(views, applied));
}

/**
 * {@link readGraph} in steps (concurrency/cooperative.ts), inside the read
 * transaction `transaction` when given: every range and `applied` then read
 * one LMDB snapshot however many batches the runtime commits in between,
 * so the graph and its rvs agree as they do in one synchronous pass.
 */
export function* readGraphSteps(views: ViewStore, applied: (namespace: string) => number, transaction?: Transaction): Steps<GraphSnapshot> {
  const range = transaction ? { transaction } : {};
  let n = 0;
  const byNs = new Map<string, Mutable>();
  const ns = (name: string): Mutable => {
    let o = byNs.get(name);
    if (!o) byNs.set(name, (o = { images: [], containers: [], content: [], ingests: [], snapshots: [], leases: [] }));
    return o;
  };
  const ingestIds = new Map<string, Map<string, string>>();
  const snapshotDirs = new Map<string, Map<string, string>>();
  const expectedDigests = new Set<string>();
  const liveDirs = new Set<string>();

  for (const { key, record: value } of allImages(views, transaction)) {
    if (++n % yieldEvery === 0) yield;
    ns(key[0]).images.push({ name: value.name, targetDigest: value.target.digest, labels: value.labels ?? {} });
  }
  for (const { key, record: value } of allContainers(views, transaction)) {
    if (++n % yieldEvery === 0) yield;
    ns(key[0]).containers.push({
      id: value.id,
      ...(value.snapshotter ? { snapshotter: value.snapshotter } : {}),
      ...(value.snapshotKey ? { snapshotKey: value.snapshotKey } : {}),
      labels: value.labels ?? {},
    });
  }
  for (const { key, record: value } of allContent(views, transaction)) {
    if (++n % yieldEvery === 0) yield;
    ns(key[0]).content.push({ digest: value.digest, labels: value.labels ?? {} });
  }
  for (const { key, value } of views.db<IngestRow, [string, string]>(ingestsDb).getRange(range)) {
    const [name, ref] = key as [string, string];
    // containerd stores `expected` only for a shared ingest, and only that one references its blob.
    ns(name).ingests.push({ ref, ...(value.shared && value.expected ? { expected: value.expected } : {}), ...(value.expireAt ? { expireAt: value.expireAt } : {}) });
    if (value.expected) expectedDigests.add(value.expected);
    let ids = ingestIds.get(name);
    if (!ids) ingestIds.set(name, (ids = new Map()));
    ids.set(ref, value.id);
  }
  for (const { key, value } of views.db<SnapshotRecord, [string, string, string]>(snapshotsDb).getRange(range)) {
    if (++n % yieldEvery === 0) yield;
    const name = (key as [string, string, string])[0];
    ns(name).snapshots.push({
      snapshotter: value.snapshotter,
      key: value.key,
      ...(value.parent !== "" ? { parent: value.parent } : {}),
      labels: value.labels ?? {},
    });
    liveDirs.add(`${value.snapshotter}\u0000${value.dir}`);
    let dirs = snapshotDirs.get(name);
    if (!dirs) snapshotDirs.set(name, (dirs = new Map()));
    dirs.set(`${value.snapshotter}/${value.key}`, value.dir);
  }
  const leases = new Map<string, GcLease & { resources: Array<{ type: string; id: string }> }>();
  for (const { key, value } of views.db<LeaseRecord, [string, string]>(leasesDb).getRange(range)) {
    const [name, id] = key as [string, string];
    const lease = { id, labels: value.labels ?? {}, resources: [] as Array<{ type: string; id: string }> };
    leases.set(`${name}\u0000${id}`, lease);
    ns(name).leases.push(lease);
  }
  for (const key of views.db<number, [string, string, string, string]>(leaseResourcesDb).getKeys(range)) {
    const [name, id, type, rid] = key as [string, string, string, string];
    leases.get(`${name}\u0000${id}`)?.resources.push({ type, id: rid });
  }

  const rvs = new Map<string, number>();
  for (const name of byNs.keys()) rvs.set(name, applied(name));
  return { objects: byNs as unknown as Map<string, NamespaceObjects>, rvs, ingestIds, expectedDigests, liveDirs, snapshotDirs };
}
