import { randomBytes } from "node:crypto";
import { invalidArgument, notFound } from "../errors/errdefs.js";
import { subjectOfEvent } from "../events/event-subject.js";
import { snapshotObjectId, type SnapshotRecord } from "../events/snapshot-events.js";
import { eventSubject, ObjectKind } from "../events/subjects.js";
import { parseFilters, type Filter } from "../filters/index.js";
import { getSnapshot, listSnapshots } from "../projections/snapshots.js";
import type { Usage } from "../protocol/results.js";
import type { NativeSnapshotter, ParentCopy } from "../snapshots/native.js";
import type { Mount } from "../protocol/results.js";
import type { Snapshotters } from "../snapshots/snapshotters.js";
import type { Append, CommandContext, CommandDefinition, Decision, QueryDefinition } from "./command.js";
import { objectExpectation, withImplicitNamespace } from "./namespace-guard.js";
import { optionalString, stringList, stringMap, type Payload } from "./payload.js";
import { snapshotState } from "./snapshot-state.js";
import { decideSnapshot, type SnapshotCommand, type SnapshotDecision, type SnapshotState } from "../domain/snapshots.js";

/**
 * Snapshot commands and queries (`purser.v1.<ns>.snapshots.<verb>`):
 * containerd's snapshots service (`services/snapshots/service.go`) and
 * metadata snapshotter in front of the decider and the native backend.
 * Unlike the other resources, they need the host (a snapshotter's root), so
 * the composition root builds them with {@link snapshotResources}.
 *
 * Payloads (msgpack maps; absent fields are zero values, as in proto3):
 *   prepare, view  {snapshotter, key, parent?, labels?}     → Mount[]
 *   commit         {snapshotter, name, key, labels?}        → SnapshotRecord
 *   remove         {snapshotter, key}                       → null
 *   update         {snapshotter, key, labels?, fieldPaths?} → SnapshotRecord
 *   stat           {snapshotter, key}                       → SnapshotRecord
 *   list           {snapshotter, filters?: string[]}        → SnapshotRecord[]
 *   usage          {snapshotter, key}                       → {size, inodes}
 *   mounts         {snapshotter, key}                       → Mount[]
 */

type Command<T extends SnapshotCommand["type"]> = SnapshotCommand & { type: T };

export function snapshotSubject(namespace: string, snapshotter: string, key: string): string {
  return eventSubject(namespace, ObjectKind.Snapshot, snapshotObjectId(snapshotter, key));
}

/** A fresh id per command: names the backend key and directory of what it creates. */
function newId(): string {
  return randomBytes(8).toString("hex");
}

/**
 * A snapshot key, parent or name: keys become LMDB key parts, which must not
 * hold NUL (projections/key-range.ts), and a snapshot's key and its parent's
 * share one LMDB key in the parent index, so each gets half of its 1978
 * bytes (the request bound of 1800 would let the pair overflow it).
 */
export const maxSnapshotKeyBytes = 900;

function noNul(value: string, what: string): string {
  if (value.includes("\u0000")) throw invalidArgument(`${what} must not contain NUL`);
  if (Buffer.byteLength(value, "utf8") > maxSnapshotKeyBytes) throw invalidArgument(`${what} greater than maximum length (${maxSnapshotKeyBytes} bytes)`);
  return value;
}

function nonEmptyName(p: Payload, field: string, what: string): string {
  const v = optionalString(p, field) ?? "";
  // containerd lets an empty key reach bolt, which fails with an unclassed
  // "bucket name required" after the backend snapshot was made; refuse it first.
  if (v === "") throw invalidArgument(`${what} must not be empty`);
  return noNul(v, what);
}

function anyKey(p: Payload): string {
  return noNul(optionalString(p, "key") ?? "", "snapshot key");
}

export interface SnapshotResources {
  commands: CommandDefinition<any, any>[];
  queries: QueryDefinition<any, any>[];
}

/** The snapshot commands and queries over the given snapshotters. */
export function snapshotResources(snapshotters: Snapshotters): SnapshotResources {
  const backend = (p: Payload): NativeSnapshotter => snapshotters.get(optionalString(p, "snapshotter") ?? "");
  /** Where a decision's new tree comes from, for beforeAppend. */
  const trees = new WeakMap<object, { sn: NativeSnapshotter; dir: string; copyOf?: string; parentCopy: ParentCopy }>();

  const decideOnViews = (ctx: CommandContext, command: SnapshotCommand): { d: SnapshotDecision; appends: Append[]; state: SnapshotState } => {
    // The views, through what this process's exclusive commands appended that they have not applied yet.
    const state = snapshotState(ctx, command.snapshotter);
    const d = decideSnapshot(command, state, ctx.now);
    const appends = d.events.map((event) => ({
      event,
      expect: d.namespaceWide ? { lastSequence: ctx.appliedRv } : objectExpectation(ctx, subjectOfEvent(ctx.namespace, event)),
    }));
    // Any write creates a missing namespace (containerd A.4; purser records it:
    // divergence 1). Only a parentless prepare or view can meet one: anything
    // else reads snapshots the namespace already holds.
    return { d, appends: d.namespaceWide ? appends : withImplicitNamespace(ctx, appends), state };
  };

  const create = (
    verb: "prepare" | "view",
  ): CommandDefinition<Command<"PrepareSnapshot" | "CreateView"> & { backend: NativeSnapshotter; parentCopy: ParentCopy }, Mount[]> => ({
    resource: "snapshots",
    verb,
    parse: (p) => ({
      type: verb === "prepare" ? "PrepareSnapshot" : "CreateView",
      backend: backend(p),
      snapshotter: optionalString(p, "snapshotter")!,
      key: nonEmptyName(p, "key", "snapshot key"),
      parent: noNul(optionalString(p, "parent") ?? "", "parent"),
      labels: stringMap(p, "labels"),
      id: newId(),
      // A request off the wire always copies; the in-process unpacker asks for links (SnapshotService.prepare).
      parentCopy: "copy",
    }),
    subject: (namespace, c) => snapshotSubject(namespace, c.snapshotter, c.key),
    // With a parent the decision is namespace-wide (decideSnapshot): take turns.
    exclusive: (c) => c.parent !== "",
    decide(ctx, c) {
      const { d, appends, state } = decideOnViews(ctx, c);
      const decision: Decision<Mount[]> = { appends, result: d.snapshot ? c.backend.mounts(d.snapshot) : [], ...(d.error ? { error: d.error } : {}) };
      const s = d.snapshot;
      // A view with a parent mounts the parent's own tree; every other new snapshot gets a tree of its own.
      if (s && !(s.kind === "view" && s.parent !== "")) {
        const parent = s.parent !== "" ? state.get(s.parent) : undefined;
        trees.set(decision, { sn: c.backend, dir: s.dir, parentCopy: c.parentCopy, ...(parent ? { copyOf: parent.dir } : {}) });
      }
      return decision;
    },
    // The tree exists before the event that names it is in the log (docs/snapshots.md).
    async beforeAppend(_ctx, _c, decision) {
      const tree = trees.get(decision);
      if (tree) await tree.sn.materialize(tree.dir, tree.copyOf, tree.parentCopy);
    },
    replay(ctx, c) {
      const s = getSnapshot(ctx.views, ctx.namespace, c.snapshotter, c.key);
      if (!s) throw notFound(`snapshot ${c.key} does not exist`);
      return c.backend.mounts(s);
    },
  });

  const commit: CommandDefinition<Command<"CommitSnapshot">, SnapshotRecord> = {
    resource: "snapshots",
    verb: "commit",
    parse: (p) => {
      backend(p);
      return {
        type: "CommitSnapshot",
        snapshotter: optionalString(p, "snapshotter")!,
        name: nonEmptyName(p, "name", "snapshot name"),
        key: anyKey(p),
        labels: stringMap(p, "labels"),
        id: newId(),
      };
    },
    subject: (namespace, c) => snapshotSubject(namespace, c.snapshotter, c.name),
    exclusive: () => true,
    decide(ctx, c) {
      const { d, appends } = decideOnViews(ctx, c);
      return { appends, result: d.snapshot! };
    },
    replay: (ctx, c) => current(ctx.views, ctx.namespace, c.snapshotter, c.name),
  };

  const remove: CommandDefinition<Command<"RemoveSnapshot">, null> = {
    resource: "snapshots",
    verb: "remove",
    parse: (p) => {
      backend(p);
      return { type: "RemoveSnapshot", snapshotter: optionalString(p, "snapshotter")!, key: anyKey(p) };
    },
    subject: (namespace, c) => snapshotSubject(namespace, c.snapshotter, c.key),
    exclusive: () => true,
    decide: (ctx, c) => ({ appends: decideOnViews(ctx, c).appends, result: null }),
    replay: () => null,
  };

  const update: CommandDefinition<Command<"UpdateSnapshot">, SnapshotRecord> = {
    resource: "snapshots",
    verb: "update",
    parse: (p) => {
      backend(p);
      return {
        type: "UpdateSnapshot",
        snapshotter: optionalString(p, "snapshotter")!,
        key: anyKey(p),
        labels: stringMap(p, "labels"),
        fieldPaths: stringList(p, "fieldPaths"),
      };
    },
    subject: (namespace, c) => snapshotSubject(namespace, c.snapshotter, c.key),
    exclusive: () => true,
    decide(ctx, c) {
      const { d, appends } = decideOnViews(ctx, c);
      return { appends, result: d.snapshot! };
    },
    replay: (ctx, c) => current(ctx.views, ctx.namespace, c.snapshotter, c.key),
  };

  type Target = { backend: NativeSnapshotter; snapshotter: string; key: string };
  const target = (p: Payload): Target => ({ backend: backend(p), snapshotter: optionalString(p, "snapshotter")!, key: anyKey(p) });

  const stat: QueryDefinition<Target, SnapshotRecord> = {
    resource: "snapshots",
    verb: "stat",
    parse: target,
    run: (views, namespace, t) => current(views, namespace, t.snapshotter, t.key),
  };

  const list: QueryDefinition<{ snapshotter: string; filter: Filter }, SnapshotRecord[]> = {
    resource: "snapshots",
    verb: "list",
    parse: (p) => {
      backend(p);
      // The snapshots service returns the ParseAll error as is (one "invalid argument").
      return { snapshotter: optionalString(p, "snapshotter")!, filter: parseFilters(stringList(p, "filters")) };
    },
    run: (views, namespace, q) => listSnapshots(views, namespace, q.snapshotter, q.filter),
  };

  const usage: QueryDefinition<Target, Usage> = {
    resource: "snapshots",
    verb: "usage",
    parse: target,
    run: (views, namespace, t) => t.backend.usage(current(views, namespace, t.snapshotter, t.key)),
  };

  const mounts: QueryDefinition<Target, Mount[]> = {
    resource: "snapshots",
    verb: "mounts",
    parse: target,
    run: (views, namespace, t) => t.backend.mounts(current(views, namespace, t.snapshotter, t.key)),
  };

  return {
    commands: [create("prepare"), create("view"), commit, remove, update],
    queries: [stat, list, usage, mounts],
  };
}

/** containerd's `snapshot %v does not exist: not found` for a key no snapshot has. */
function current(views: CommandContext["views"], namespace: string, snapshotter: string, key: string): SnapshotRecord {
  const s = getSnapshot(views, namespace, snapshotter, key);
  if (!s) throw notFound(`snapshot ${key} does not exist`);
  return s;
}
