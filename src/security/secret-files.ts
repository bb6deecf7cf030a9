import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";

/** Writes a secret file readable by its owner only, atomically (never a half-written seed). */
export function writeSecretFile(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** A directory only its owner may enter (mode 0700, also when it already existed). */
export function privateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}
