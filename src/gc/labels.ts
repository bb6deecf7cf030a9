/** The GC labels of containerd 1.6 (`metadata/gc.go`, docs/garbage-collection.md). */
export const GcLabel = {
  Root: "containerd.io/gc.root",
  ContentRef: "containerd.io/gc.ref.content",
  SnapshotRefPrefix: "containerd.io/gc.ref.snapshot.",
  Expire: "containerd.io/gc.expire",
  Flat: "containerd.io/gc.flat",
} as const;

export interface LabelRefs {
  content: string[];
  /** `{snapshotter, key}` pairs. */
  snapshots: Array<{ snapshotter: string; key: string }>;
}

/**
 * The references a set of labels makes (containerd `sendLabelRefs`), in
 * label-key order as bolt's cursor yields them. `gc.ref.content` counts exactly
 * or followed by `.` or `/`; `gc.ref.snapshot.<snapshotter>` optionally followed
 * by `/<anything>`.
 */
export function labelRefs(labels: Readonly<Record<string, string>>): LabelRefs {
  const out: LabelRefs = { content: [], snapshots: [] };
  for (const key of Object.keys(labels).sort()) {
    const value = labels[key]!;
    if (key.startsWith(GcLabel.ContentRef)) {
      const next = key.charAt(GcLabel.ContentRef.length);
      if (next === "" || next === "." || next === "/") out.content.push(value);
    } else if (key.startsWith(GcLabel.SnapshotRefPrefix)) {
      let snapshotter = key.slice(GcLabel.SnapshotRefPrefix.length);
      const slash = snapshotter.indexOf("/");
      if (slash >= 0) snapshotter = snapshotter.slice(0, slash);
      out.snapshots.push({ snapshotter, key: value });
    }
  }
  return out;
}

/**
 * Whether a lease has expired at `now`. An unparsable `gc.expire` keeps the
 * lease (containerd logs `ignoring invalid expiration value %q` and keeps it).
 */
export function leaseExpired(labels: Readonly<Record<string, string>>, now: Date, onInvalid?: (value: string) => void): boolean {
  const value = labels[GcLabel.Expire];
  if (value === undefined) return false;
  const t = parseRfc3339(value);
  if (t === undefined) {
    onInvalid?.(value);
    return false;
  }
  return t.getTime() < now.getTime();
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Go's time.Parse(time.RFC3339, …): date, `T`, time, optional fraction, and a zone. */
export function parseRfc3339(value: string): Date | undefined {
  if (!rfc3339.test(value)) return undefined;
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

/**
 * containerd's ingest expiry: an ingest with an `expireAt` still in the
 * future is a root; one without (it belongs to a lease) or past it is not.
 */
export function ingestUnexpired(expireAt: string | undefined, now: Date): boolean {
  const exp = expireAt === undefined ? undefined : parseRfc3339(expireAt);
  return exp !== undefined && now.getTime() < exp.getTime();
}

/**
 * The earliest future time among those considered (a lease's `gc.expire`,
 * an ingest's `expireAt`): when a collection may find something by time
 * alone. Undefined when none is in the future.
 */
export class NextExpiry {
  private next: number | undefined;

  constructor(private readonly now: Date) {}

  consider(value: string | undefined): void {
    const t = value === undefined ? undefined : parseRfc3339(value);
    if (t && t.getTime() >= this.now.getTime() && (this.next === undefined || t.getTime() < this.next)) this.next = t.getTime();
  }

  get value(): number | undefined {
    return this.next;
  }
}
