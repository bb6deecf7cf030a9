import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { adaptRecord, parseFilters } from "../../filters/index.js";
import { serviceVersion } from "../../protocol/service.js";
import type { UnaryHandler } from "../unary.js";

/**
 * The version purser's containerd API reports: containerd's API version it
 * serves, marked as purser's (`ctr version` prints it), and purser's own
 * version as the revision.
 */
export const apiVersion = "1.6.20+purser";

/** `containerd.services.version.v1.Version`. */
export function versionService(): Record<string, UnaryHandler> {
  return {
    async version() {
      return { version: apiVersion, revision: serviceVersion };
    },
  };
}

/** What purser provides, as containerd's plugin registry would list it (`ctr plugins ls`). */
const plugins: ReadonlyArray<{ type: string; id: string; requires?: string[] }> = [
  { type: "io.containerd.content.v1", id: "content" },
  { type: "io.containerd.snapshotter.v1", id: "native" },
  { type: "io.containerd.metadata.v1", id: "purser", requires: ["io.containerd.content.v1", "io.containerd.snapshotter.v1"] },
  { type: "io.containerd.differ.v1", id: "walking", requires: ["io.containerd.metadata.v1"] },
  { type: "io.containerd.gc.v1", id: "scheduler", requires: ["io.containerd.metadata.v1"] },
  ...["containers", "content", "diff", "events", "images", "introspection", "leases", "namespaces", "snapshots", "version"].map((id) => ({
    type: "io.containerd.grpc.v1",
    id,
  })),
];

/**
 * `containerd.services.introspection.v1.Introspection`: the plugins purser
 * provides (filters on `type`, `id` and `capabilities` as containerd's), and
 * the server's uuid, made once and kept in the data directory (containerd
 * keeps its own under its root the same way).
 */
export function introspectionService(dataDir: string): Record<string, UnaryHandler> {
  const uuid = serverUuid(dataDir);
  return {
    async plugins(call) {
      const filter = parseFilters(call.request.filters);
      const listed = plugins.map((p) => ({ type: p.type, id: p.id, requires: p.requires ?? [], platforms: [], exports: {}, capabilities: [] as string[], initErr: null }));
      return {
        plugins: listed.filter((p) =>
          filter.match(adaptRecord({ type: () => p.type, id: () => p.id, capabilities: () => (p.capabilities.length > 0 ? p.capabilities.join(",") : undefined) })),
        ),
      };
    },
    async server() {
      return { uuid };
    },
  };
}

function serverUuid(dataDir: string): string {
  const path = join(dataDir, "containerd-api.uuid");
  try {
    const kept = readFileSync(path, "utf8").trim();
    if (/^[0-9a-f-]{36}$/.test(kept)) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const made = randomUUID();
  // Whole or not at all: a crash never leaves half a uuid.
  writeFileSync(`${path}.tmp`, `${made}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return made;
}
