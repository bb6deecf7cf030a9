import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { uptime } from "node:os";
import { join } from "node:path";
import type { Logger } from "../observability/logger.js";
import {
  currentGeneration,
  generationPath,
  nextGeneration,
  removeGeneration,
  setCurrentGeneration,
  viewsRoot,
} from "./view-generations.js";

/**
 * The views are a cache of the log, so they are written without an fsync per
 * batch (LMDB `noSync`: a commit costs microseconds instead of a disk flush,
 * which measured as the largest cost of every command). A crash of the
 * process loses nothing (the pages are in the OS's cache). A crash of the
 * machine while the views were open may leave them torn, so each generation
 * records the boot it was opened in: found open from another boot, it is
 * thrown away and the views are replayed from the log. A clean stop flushes
 * the file first and then marks the generation closed.
 */
interface SessionMarker {
  bootId: string;
  open: boolean;
  /** The {@link viewsLayout} the generation was built with (absent: before layouts were numbered). */
  layout?: number;
}

/**
 * The layout of the views' databases. A purser that changes what a
 * projection writes (a new database, a new row shape) raises it; a generation
 * built with another layout is thrown away at start and replayed from the
 * log, as a torn one is, so no view is ever read in a shape its code does not
 * write. History: 1 (unnumbered) → 2: image-usage and the label indexes →
 * 3: image-usage rows stored as the msgpack a list page sends → 4: one
 * image-usage row per target, shared by its tags → 5: the GC's reference
 * graph (gc-references.ts) → 6: which records name a snapshot directory, and
 * the disk clean-up's candidates (host-candidates.ts) → 7: each lease's
 * incarnation (the rv of its LeaseCreated, leases.ts).
 */
export const viewsLayout = 7;

export function currentBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    // No procfs: the boot time, to the minute, names the boot.
    return String(Math.round((Date.now() - uptime() * 1000) / 60_000));
  }
}

function markerPath(dataDir: string, generation: string): string {
  return join(viewsRoot(dataDir), `${generation}.session`);
}

function writeDurably(file: string, content: string): void {
  writeFileSync(file, content);
  const fd = openSync(file, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The generation to open: the current one, unless it was left open by a boot
 * that is not this one; then a fresh, empty generation that replays the log.
 * Marks the chosen generation open in this boot.
 */
export function openGenerationSafely(dataDir: string, log: Logger, bootId = currentBootId()): string {
  let generation = currentGeneration(dataDir);
  const file = markerPath(dataDir, generation);
  if (existsSync(file)) {
    let marker: SessionMarker | undefined;
    try {
      marker = JSON.parse(readFileSync(file, "utf8")) as SessionMarker;
    } catch {
      marker = undefined;
    }
    const torn = !marker || (marker.open && marker.bootId !== bootId);
    const otherLayout = !torn && marker!.layout !== viewsLayout;
    if (torn || otherLayout) {
      const stale = generation;
      generation = nextGeneration(dataDir);
      setCurrentGeneration(dataDir, generation);
      removeGeneration(dataDir, stale);
      removeMarker(dataDir, stale);
      if (torn) log.warn("views were open when the machine went down: replaying them from the log", { stale, generation });
      else log.warn("views were built with another layout: replaying them from the log", { stale, generation, layout: marker!.layout ?? 1, now: viewsLayout });
    }
  }
  writeDurably(markerPath(dataDir, generation), JSON.stringify({ bootId, open: true, layout: viewsLayout } satisfies SessionMarker));
  return generation;
}

/** After the environment is closed: flush its file, then mark the generation closed. */
export function closeGenerationSafely(dataDir: string, generation: string): void {
  const data = join(generationPath(dataDir, generation), "data.mdb");
  if (existsSync(data)) {
    const fd = openSync(data, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  writeDurably(markerPath(dataDir, generation), JSON.stringify({ bootId: currentBootId(), open: false, layout: viewsLayout } satisfies SessionMarker));
}

export function removeMarker(dataDir: string, generation: string): void {
  try {
    writeFileSync(markerPath(dataDir, generation), "");
  } catch {
    // nothing to remove
  }
}
