import { join } from "node:path";
import { credentials, makeGenericClientConstructor, Metadata, type Client, type ServiceError } from "@grpc/grpc-js";
import { ContainerdApiServer } from "../src/containerd-api/gateway.js";
import { loadContainerdApi } from "../src/containerd-api/protos.js";
import { silentLogger } from "../src/observability/logger.js";
import type { BenchContext, Suite } from "./context.js";
import { measureOps, measureRate, type Measurement } from "./measure.js";

/**
 * containerd's API (issue 14): the calls ctr and containerd's client make,
 * through the unix socket (gRPC, HTTP/2, protobuf), beside the same calls
 * over NATS in the same run — image create, get and list (200 images) at 1
 * and 16 in flight, and one 64 MiB Content.Write in 1 MiB messages (ctr's
 * copy buffer) beside a 64 MiB ingest over NATS. The client is in the bench
 * process, as the NATS rows' client is.
 */
const digest = "sha256:" + "0123456789abcdef".repeat(4);
const MiB = 1024 * 1024;

export const containerdApiSuite: Suite = {
  name: "containerd api",
  async run(ctx: BenchContext): Promise<void> {
    const s = ctx.server;
    const socket = join(ctx.scratchDir, "containerd.sock");
    const gateway = new ContainerdApiServer(s.service, s.unpacker, s.runtime, ctx.dataDir, silentLogger);
    await gateway.listen(socket);
    const api = loadContainerdApi();
    const clients: Client[] = [];
    const clientOf = (service: string) => {
      const Ctor = makeGenericClientConstructor(api.service(service), service);
      const c = new Ctor(`unix:${socket}`, credentials.createInsecure(), { "grpc.max_receive_message_length": 16 * MiB });
      clients.push(c);
      return c as unknown as Record<string, (req: unknown, md: Metadata, cb: (e: ServiceError | null, r: any) => void) => void> & Client;
    };
    const run = Date.now().toString(36);
    const ns = `bench-ctrd-${run}`;
    const md = new Metadata();
    md.set("containerd-namespace", ns);
    const images = clientOf("containerd.services.images.v1.Images");
    const unary = (c: ReturnType<typeof clientOf>, method: string, req: unknown) =>
      new Promise<any>((resolve, reject) => c[method]!.call(c, req, md, (e, r) => (e ? reject(e) : resolve(r))));
    const image = (name: string) => ({ name, labels: { "bench/run": run }, target: { mediaType: "application/vnd.oci.image.index.v1+json", digest, size: 1234 } });
    const record = (m: Measurement) => {
      ctx.record(m);
      if (m.errors > 0) ctx.progress(`  ${m.errors} errors in ${m.id} c=${m.concurrency}: ${m.firstError}`);
    };
    try {
      await ctx.client.namespaces.create(ns);
      const total = ctx.n(2000, 200);
      const grpcNames = Array.from({ length: total }, (_, i) => `registry.example.com/ctrd/g-${i}:${run}`);
      const natsNames = Array.from({ length: total }, (_, i) => `registry.example.com/ctrd/n-${i}:${run}`);
      // Warm both paths.
      for (let i = 0; i < 20; i++) {
        await unary(images, "create", { image: image(`warm/g-${i}`) });
        await ctx.client.images.create(ns, image(`warm/n-${i}`));
      }
      for (const c of [1, 16]) {
        const half = c === 1 ? [0, total / 2] : [total / 2, total];
        record(await measureOps({ id: "ctrd.images.create", name: "containerd API: image create (socket)", section: "purser", concurrency: c, count: half[1]! - half[0]!, op: (i) => unary(images, "create", { image: image(grpcNames[half[0]! + i]!) }), maxSeconds: 20 }));
        record(await measureOps({ id: "ctrd.images.create-nats", name: "the same over NATS (purser client)", section: "purser", concurrency: c, count: half[1]! - half[0]!, op: (i) => ctx.client.images.create(ns, image(natsNames[half[0]! + i]!)), maxSeconds: 20 }));
      }
      for (const c of [1, 16]) {
        record(await measureOps({ id: "ctrd.images.get", name: "containerd API: image get (socket)", section: "purser", concurrency: c, count: ctx.n(4000, 400), op: (i) => unary(images, "get", { name: grpcNames[(i * 7) % total] }), maxSeconds: 20 }));
        record(await measureOps({ id: "ctrd.images.get-nats", name: "the same over NATS (purser client)", section: "purser", concurrency: c, count: ctx.n(4000, 400), op: (i) => ctx.client.images.get(ns, natsNames[(i * 7) % total]!), maxSeconds: 20 }));
      }
      const present = (await ctx.client.images.list(ns)).result.length;
      for (const c of [1, 16]) {
        record(await measureOps({ id: "ctrd.images.list", name: `containerd API: image list, all ${present} (socket)`, section: "purser", concurrency: c, count: ctx.n(100, 10), op: () => unary(images, "list", { filters: [] }), maxSeconds: 20 }));
        record(await measureOps({ id: "ctrd.images.list-nats", name: "the same over NATS (purser client)", section: "purser", concurrency: c, count: ctx.n(100, 10), op: () => ctx.client.images.list(ns), maxSeconds: 20 }));
      }

      // One 64 MiB blob, three times each way; the median.
      const content = clientOf("containerd.services.content.v1.Content") as unknown as { write: (md: Metadata) => any };
      const big = Buffer.alloc(64 * MiB, 7);
      const grpcRates: number[] = [];
      const natsRates: number[] = [];
      for (let r = 0; r < 3; r++) {
        big.writeUInt32BE(1000 + r, 0);
        const g = await measureRate({ id: "ctrd.content-write-64m", name: "", section: "purser" }, () =>
          new Promise<number>((resolve, reject) => {
            const stream = content.write.call(content, md);
            let last: any;
            stream.on("data", (d: unknown) => (last = d));
            stream.on("error", reject);
            stream.on("end", () => (Number(last?.offset) === big.length ? resolve(64) : reject(new Error(`wrote ${last?.offset}`))));
            stream.write({ action: "STAT", ref: `grpc-${run}-${r}`, total: big.length });
            for (let at = 0; at < big.length; at += MiB) {
              const end = Math.min(big.length, at + MiB);
              stream.write({ action: end === big.length ? "COMMIT" : "WRITE", ref: `grpc-${run}-${r}`, offset: at, data: big.subarray(at, end), total: big.length });
            }
            stream.end();
          }),
        );
        grpcRates.push(g.opsPerSec);
        big.writeUInt32BE(2000 + r, 0);
        const n = await measureRate({ id: "ctrd.content-write-64m-nats", name: "", section: "purser" }, async () => {
          await ctx.client.content.writeBlob(ns, `nats-${run}-${r}`, big, { size: big.length });
          return 64;
        });
        natsRates.push(n.opsPerSec);
      }
      const median = (rates: number[]) => [...rates].sort((a, b) => a - b)[1]!;
      for (const [id, name, rates] of [
        ["ctrd.content-write-64m", "containerd API: one 64 MiB Content.Write, 1 MiB messages (socket), MiB/s", grpcRates],
        ["ctrd.content-write-64m-nats", "the same blob over NATS (purser client writeBlob), MiB/s", natsRates],
      ] as const) {
        const rate = median([...rates]);
        record({ id, name, section: "purser", concurrency: 1, ops: 64, errors: 0, seconds: 64 / rate, opsPerSec: rate, p50Ms: null, p99Ms: null, meanMs: null, maxMs: null, repeatRates: [...rates], baseline: { id: "raw.file-write-sha256" } });
      }
    } finally {
      for (const c of clients) c.close();
      await gateway.close();
    }
  },
};
