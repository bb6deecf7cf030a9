import { digestError } from "../validation/digest.js";
import { isSnapshotDirName } from "../validation/snapshot-dir.js";
import type { EventType } from "./catalog.js";

/**
 * The shape of every event type's data at its current version, checked when
 * an event is read (envelope.ts, after upcasting): an event that does not fit
 * is quarantined (projections/quarantine.ts) instead of being half applied.
 * Next to the catalogue; drawn in docs/events.md. Fields the writers leave out
 * are optional here, unknown extra fields are allowed (a newer writer's), and
 * `spec`, `options` and `extensions` are containerd's opaque values.
 */
type Check = (value: unknown, path: string) => string | undefined;

const str: Check = (v, path) => (typeof v === "string" ? undefined : `${path} must be a string`);
const num: Check = (v, path) => (typeof v === "number" && Number.isFinite(v) ? undefined : `${path} must be a number`);
const bool: Check = (v, path) => (typeof v === "boolean" ? undefined : `${path} must be a boolean`);
/** A blob's digest: it names a file under the blob store, so nothing else may pass (`../x` would be a path). */
const digest: Check = (v, path) => (typeof v !== "string" ? `${path} must be a string` : digestError(v) ? `${path} must be a digest` : undefined);
const digestOrEmpty: Check = (v, path) => (v === "" ? undefined : digest(v, path));
/** A snapshot directory's name under the snapshotter's root: the hex names purser gives (never a path). */
const dirName: Check = (v, path) => (typeof v === "string" && isSnapshotDirName(v) ? undefined : `${path} must be a snapshot directory name (hex)`);
const anything: Check = () => undefined;
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const map: Check = (v, path) => (isMap(v) ? undefined : `${path} must be a map`);
const stringMap: Check = (v, path) => {
  if (!isMap(v)) return `${path} must be a map of strings`;
  for (const [k, x] of Object.entries(v)) if (typeof x !== "string") return `${path}.${k} must be a string`;
  return undefined;
};
const strings: Check = (v, path) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : `${path} must be a list of strings`);
const optional =
  (check: Check): Check =>
  (v, path) =>
    v === undefined || v === null ? undefined : check(v, path);
const oneOf =
  (...values: string[]): Check =>
  (v, path) =>
    typeof v === "string" && values.includes(v) ? undefined : `${path} must be one of ${values.join(", ")}`;
const obj =
  (fields: Record<string, Check>): Check =>
  (v, path) => {
    if (!isMap(v)) return `${path} must be a map`;
    for (const [name, check] of Object.entries(fields)) {
      const problem = check(v[name], `${path}.${name}`);
      if (problem) return problem;
    }
    return undefined;
  };

const namespace = obj({ name: str, labels: stringMap, createdAt: str, updatedAt: str });
const lease = obj({ id: str, labels: stringMap, createdAt: str });
const leaseResource = obj({ type: str, id: str });
const snapshot = obj({
  snapshotter: str,
  key: str,
  kind: oneOf("active", "view", "committed"),
  parent: str,
  labels: stringMap,
  createdAt: str,
  updatedAt: str,
  backendKey: str,
  dir: dirName,
});
const ingest = obj({ ref: str, id: str, expected: digestOrEmpty, total: num, shared: bool, startedAt: str, expireAt: optional(str), lease: optional(str) });
const content = obj({ digest, size: num, labels: stringMap, createdAt: str, updatedAt: str });
const image = obj({
  name: str,
  labels: stringMap,
  target: obj({ mediaType: str, digest: str, size: num, annotations: optional(stringMap) }),
  createdAt: str,
  updatedAt: str,
});
const container = obj({
  id: str,
  labels: stringMap,
  image: str,
  runtime: obj({ name: str, options: anything }),
  spec: anything,
  snapshotter: str,
  snapshotKey: str,
  extensions: optional(map),
  createdAt: str,
  updatedAt: str,
});

export const eventSchemas: Record<EventType, Check> = {
  NamespaceCreated: obj({ namespace, implicit: optional(bool) }),
  NamespaceUpdated: obj({ namespace, fieldPaths: strings }),
  NamespaceDeleted: obj({ name: str }),
  LeaseCreated: obj({ lease }),
  LeaseResourceAdded: obj({ id: str, resource: leaseResource, leaseRv: optional(num) }),
  LeaseResourceRemoved: obj({ id: str, resource: leaseResource }),
  LeaseDeleted: obj({ id: str }),
  SnapshotPrepared: obj({ snapshot }),
  SnapshotViewCreated: obj({ snapshot }),
  SnapshotCommitted: obj({ snapshot, key: str }),
  SnapshotRemoved: obj({ snapshotter: str, key: str }),
  SnapshotUpdated: obj({ snapshot, fieldPaths: strings }),
  IngestStarted: obj({ ingest, resumed: optional(bool) }),
  IngestAborted: obj({ ref: str, reason: optional(str) }),
  ContentCommitted: obj({ content, ref: optional(str), ingestId: optional(str) }),
  ContentUpdated: obj({ content, fieldPaths: strings }),
  ContentDeleted: obj({ digest }),
  ImageCreated: obj({ image }),
  ImageUpdated: obj({ image, fieldPaths: strings }),
  ImageDeleted: obj({ name: str }),
  ContainerCreated: obj({ container }),
  ContainerUpdated: obj({ container, fieldPaths: strings }),
  ContainerDeleted: obj({ id: str }),
  IngestExpired: obj({ ref: str }),
  LeaseExpired: obj({ id: str }),
  BlobRemoved: obj({ digest, size: num }),
};

/** Why `data` is not a `type` event's data, or undefined when it is. */
export function schemaProblem(type: EventType, data: unknown): string | undefined {
  return eventSchemas[type](data, "data");
}
