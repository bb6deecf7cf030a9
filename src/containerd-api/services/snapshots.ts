import type { Metadata, ServerWritableStream } from "@grpc/grpc-js";
import type { SnapshotRecord } from "../../events/snapshot-events.js";
import type { Mount, Usage } from "../../protocol/results.js";
import { maskPaths, timestamp } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import type { UnaryHandler } from "../unary.js";

/** containerd's snapshots server sends a list in blocks of this many infos. */
const listBlock = 100;

/** containerd `snapshots.v1.Kind` names as protos.ts decodes them. */
const kindName: Record<string, string> = { view: "VIEW", active: "ACTIVE", committed: "COMMITTED" };

export function snapshotInfo(s: SnapshotRecord) {
  return { name: s.key, parent: s.parent, kind: kindName[s.kind] ?? "UNKNOWN", createdAt: timestamp(s.createdAt), updatedAt: timestamp(s.updatedAt), labels: s.labels };
}

function mountMessage(m: Mount) {
  return { type: m.type, source: m.source, target: "", options: m.options };
}

/**
 * `containerd.services.snapshots.v1.Snapshots`: purser's snapshots commands
 * and queries in the call's namespace, on the snapshotter the request names
 * (purser has `native`; another is `snapshotter not loaded: …: invalid
 * argument`, as containerd says of one it lacks).
 */
export function snapshotsService(calls: PurserCalls): Record<string, UnaryHandler> {
  const run = <R>(call: { metadata: Metadata }, verb: string, payload: Record<string, unknown>) => calls.runInCallNamespace<R>(call.metadata, "snapshots", verb, payload);
  return {
    async prepare(call) {
      const r = call.request;
      const { result } = await run<Mount[]>(call, "prepare", { snapshotter: r.snapshotter, key: r.key, parent: r.parent, labels: r.labels });
      return { mounts: result.map(mountMessage) };
    },
    async view(call) {
      const r = call.request;
      const { result } = await run<Mount[]>(call, "view", { snapshotter: r.snapshotter, key: r.key, parent: r.parent, labels: r.labels });
      return { mounts: result.map(mountMessage) };
    },
    async mounts(call) {
      const { result } = await run<Mount[]>(call, "mounts", { snapshotter: call.request.snapshotter, key: call.request.key });
      return { mounts: result.map(mountMessage) };
    },
    async commit(call) {
      const r = call.request;
      await run(call, "commit", { snapshotter: r.snapshotter, name: r.name, key: r.key, labels: r.labels });
      return {};
    },
    async remove(call) {
      await run(call, "remove", { snapshotter: call.request.snapshotter, key: call.request.key });
      return {};
    },
    async stat(call) {
      const { result } = await run<SnapshotRecord>(call, "stat", { snapshotter: call.request.snapshotter, key: call.request.key });
      return { info: snapshotInfo(result) };
    },
    async update(call) {
      const info = call.request.info ?? { name: "", labels: {} };
      const { result } = await run<SnapshotRecord>(call, "update", { snapshotter: call.request.snapshotter, key: info.name, labels: info.labels, fieldPaths: maskPaths(call.request.updateMask) });
      return { info: snapshotInfo(result) };
    },
    async usage(call) {
      const { result } = await run<Usage>(call, "usage", { snapshotter: call.request.snapshotter, key: call.request.key });
      return { size: result.size, inodes: result.inodes };
    },
    async cleanup() {
      // containerd's Cleanup removes what its snapshotter no longer needs: purser's collector does that on its own.
      return {};
    },
  };
}

/** `List`: the namespace's snapshots of one snapshotter (filters as containerd's), in blocks. */
export async function listSnapshots(calls: PurserCalls, call: ServerWritableStream<any, any>): Promise<void> {
  const ns = calls.namespaceOf(call.metadata);
  const { result } = await calls.run<SnapshotRecord[]>(call.metadata, "snapshots", "list", ns, { snapshotter: call.request.snapshotter, filters: call.request.filters });
  for (let i = 0; i < result.length; i += listBlock) call.write({ info: result.slice(i, i + listBlock).map(snapshotInfo) });
}
