import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * The layers of docs/architecture.md, checked on the sources: which folder
 * may import which. A rule broken here is a design change: change the
 * architecture document first, then this table.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const src = join(root, "src");

interface Import {
  /** `src/…/x.ts` for a project module, the package name otherwise (`lmdb`, `node:fs`). */
  target: string;
  /** `import type` / `export type`: erased by tsc, loads nothing. */
  typeOnly: boolean;
  /** `await import(…)`: loaded when that code runs, not with the module. */
  dynamic: boolean;
}

const staticImport = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?["']([^"']+)["']/gm;
const dynamicImport = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

function resolveTarget(from: string, spec: string): string {
  if (!spec.startsWith(".")) return spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
  return relative(root, resolve(dirname(from), spec.replace(/\.js$/, ".ts")));
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const out: Import[] = [];
  for (const m of text.matchAll(staticImport)) out.push({ target: resolveTarget(file, m[3]!), typeOnly: m[2] !== undefined, dynamic: false });
  for (const m of text.matchAll(dynamicImport)) out.push({ target: resolveTarget(file, m[1]!), typeOnly: false, dynamic: true });
  return out;
}

const files = new Map(sourceFiles(src).map((f) => [relative(root, f), importsOf(f)]));

function folderOf(path: string): string {
  return path.startsWith("src/") ? path.split("/")[1]! : path;
}

/** Every import of the files under `folder` whose target `bad` rejects, as `file -> target` lines. */
function violations(folder: string, bad: (imp: Import, file: string) => boolean): string[] {
  const found: string[] = [];
  for (const [file, imports] of files) {
    if (folderOf(file) !== folder) continue;
    for (const imp of imports) if (bad(imp, file)) found.push(`${file} -> ${imp.target}`);
  }
  return found;
}

const serverSide = ["server", "projections", "commands", "content", "gc", "unpack", "snapshots", "domain"];

describe("layering (docs/architecture.md)", () => {
  it("the source tree was read (a check of nothing passes nothing)", () => {
    assert.ok(files.size > 100, `only ${files.size} source files found under ${src}`);
    assert.ok(files.get("src/server/purser-server.ts")!.some((i) => i.target === "src/projections/runtime.ts"));
  });

  it("domain/ imports only errors/, validation/, event types and itself (pure deciders: no I/O, no clock)", () => {
    const allowed = (t: string) =>
      ["domain", "errors", "validation"].includes(folderOf(t)) ||
      /^src\/events\/(\w+-events|catalog)\.ts$/.test(t) ||
      // Hashing is a pure function (snapshot directory names).
      t === "node:crypto";
    assert.deepEqual(violations("domain", (imp) => !allowed(imp.target)), []);
  });

  it("protocol/ (the wire contract) loads nothing of the server", () => {
    assert.deepEqual(
      violations("protocol", (imp) => serverSide.includes(folderOf(imp.target)) || ["lmdb", "tsyringe", "@nats-io/jetstream"].includes(imp.target)),
      [],
    );
  });

  it("client/ imports protocol/, events/ and the shared libraries, never the server, the views or lmdb", () => {
    assert.deepEqual(violations("client", (imp) => serverSide.includes(folderOf(imp.target)) || ["lmdb", "tsyringe"].includes(imp.target)), []);
  });

  it("only the composition root and the CLI import server/; services expose endpoints and never mount themselves", () => {
    const found: string[] = [];
    for (const [file, imports] of files) {
      if (["server", "cli"].includes(folderOf(file))) continue;
      for (const imp of imports) if (folderOf(imp.target) === "server") found.push(`${file} -> ${imp.target}`);
    }
    assert.deepEqual(found, []);
  });

  it("containerd-api/ reaches purser through the endpoints it is given: no views, services' internals or lmdb", () => {
    assert.deepEqual(violations("containerd-api", (imp) => ["projections", "content", "gc", "snapshots", "server"].includes(folderOf(imp.target)) || imp.target === "lmdb"), []);
  });

  it("projections/ never import commands/ (both build on domain/; commands read the views)", () => {
    assert.deepEqual(violations("projections", (imp) => folderOf(imp.target) === "commands"), []);
  });

  it("what `purser --help` loads: no server module, no lmdb, no NATS client, no progress bars", () => {
    const loaded = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      for (const imp of files.get(file) ?? []) {
        if (imp.typeOnly || imp.dynamic) continue;
        if (imp.target.startsWith("src/")) visit(imp.target);
        else packages.add(imp.target);
      }
    };
    visit("src/cli/main.ts");
    assert.ok(loaded.has("src/cli/namespaces.ts"), "the walk follows the CLI's static imports");
    assert.deepEqual([...loaded].filter((f) => serverSide.includes(folderOf(f))), []);
    assert.deepEqual([...packages].filter((p) => !p.startsWith("node:")).sort(), ["commander"]);
  });
});
