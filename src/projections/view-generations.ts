import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * View environments live in numbered generations under `<data>/views/`, with
 * `CURRENT` naming the one in use. A rebuild writes the next generation while
 * the current one serves, then switches `CURRENT` with an atomic rename: a crash
 * at any point leaves one complete generation named by `CURRENT`.
 */
export function viewsRoot(dataDir: string): string {
  return join(dataDir, "views");
}

export function currentGeneration(dataDir: string): string {
  const root = viewsRoot(dataDir);
  mkdirSync(root, { recursive: true });
  const file = join(root, "CURRENT");
  if (!existsSync(file)) setCurrentGeneration(dataDir, "gen-1");
  return readFileSync(file, "utf8").trim();
}

export function generationPath(dataDir: string, generation: string): string {
  return join(viewsRoot(dataDir), generation);
}

export function nextGeneration(dataDir: string): string {
  const n = Number(/^gen-(\d+)$/.exec(currentGeneration(dataDir))?.[1] ?? "0");
  const next = `gen-${n + 1}`;
  rmSync(generationPath(dataDir, next), { recursive: true, force: true });
  return next;
}

export function setCurrentGeneration(dataDir: string, generation: string): void {
  const root = viewsRoot(dataDir);
  const tmp = join(root, "CURRENT.tmp");
  writeFileSync(tmp, generation + "\n");
  renameSync(tmp, join(root, "CURRENT"));
}

export function removeGeneration(dataDir: string, generation: string): void {
  rmSync(generationPath(dataDir, generation), { recursive: true, force: true });
  rmSync(join(viewsRoot(dataDir), `${generation}.session`), { force: true });
}

/** Generations other than the current one: what a rebuild that was interrupted (the process killed) left behind. */
export function strayGenerations(dataDir: string): string[] {
  const current = currentGeneration(dataDir);
  return readdirSync(viewsRoot(dataDir), { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^gen-\d+$/.test(e.name) && e.name !== current)
    .map((e) => e.name);
}
