/**
 * The directory names purser gives snapshots (hex ids and hashes,
 * commands/snapshot-handlers.ts, domain/snapshots.ts): a name read from the
 * log becomes a path under the snapshotter's root only if it is one.
 */
export function isSnapshotDirName(name: string): boolean {
  return /^[0-9a-f]{1,64}$/.test(name);
}
