import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { privateDir, writeSecretFile } from "./secret-files.js";

/** An nkey identity kept on disk: the seed file (mode 0600) and its public key. */
export interface Identity {
  name: string;
  seedFile: string;
  publicKey: string;
}

/** A new nkey user pair: the seed stays with its holder, the public key goes into the server's configuration. */
export function newUserKeys(): { seed: string; publicKey: string } {
  const kp = createUser();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/**
 * The identity `name` in `dir` (`<name>.nk`), generated on first use: a
 * restart keeps who the service and the admin are, so contexts and clients
 * already holding the seed keep working.
 */
export function ensureIdentity(dir: string, name: string): Identity {
  privateDir(dir);
  const seedFile = join(dir, `${name}.nk`);
  if (!existsSync(seedFile)) writeSecretFile(seedFile, `${newUserKeys().seed}\n`);
  chmodSync(seedFile, 0o600);
  const seed = readFileSync(seedFile, "utf8").trim();
  let publicKey: string;
  try {
    publicKey = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  } catch {
    throw new Error(`${seedFile} does not hold an nkey seed: move it away and start again to generate a new identity`);
  }
  return { name, seedFile, publicKey };
}
