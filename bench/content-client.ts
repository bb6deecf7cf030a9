import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { PurserClient } from "../src/client/purser-client.js";

/**
 * The client side of the content suite's separate-process ingest:
 * `node content-client.js URL NAMESPACE REF SIZE SEED` streams SIZE bytes in
 * 64 KiB pieces as one blob and prints the MiB/s of the write alone.
 */
async function main(): Promise<void> {
  const [url, ns, ref, sizeArg, seedArg] = process.argv.slice(2);
  const size = Number(sizeArg);
  const data = randomBytes(size);
  data.writeUInt32BE(Number(seedArg), 0);
  const client = await PurserClient.connect(url, "bench-content-client");
  try {
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
      })(),
    );
    const t0 = process.hrtime.bigint();
    const result = await client.content.writeBlob(ns!, ref!, source, { size });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (result.size !== size) throw new Error(`ingested ${result.size} of ${size} bytes`);
    process.stdout.write(`${size / (1024 * 1024) / seconds}\n`);
  } finally {
    await client.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
