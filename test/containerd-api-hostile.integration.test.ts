/**
 * Hostile calls to purser's containerd API, made with a raw gRPC client (what
 * ctr never sends): missing or bad metadata, a Diff.Apply naming a directory
 * that is not an active snapshot of the namespace, malformed Write streams,
 * bad topics, filters and digests. Each gets containerd's status code and
 * text, and changes nothing.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { loadContainerdApi } from "../src/containerd-api/protos.js";
import { fixturePath } from "./support/image-archives.js";
import { runCtr } from "./support/ctr.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { tempDir } from "./support/nats.js";
import { eventually } from "./support/assertions.js";

type Unary = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: any) => void) => void;

describe("hostile calls to the containerd API", () => {
  let p: TestPurser;
  const dir = tempDir("purser-grpc-");
  const socket = join(dir.path, "c.sock");
  const clients = new Map<string, Client>();
  const api = loadContainerdApi();

  const client = (service: string): Client => {
    let c = clients.get(service);
    if (!c) {
      const Ctor = makeGenericClientConstructor(api.service(service), service);
      c = new Ctor(`unix:${socket}`, credentials.createInsecure());
      clients.set(service, c);
    }
    return c;
  };
  const md = (values: Record<string, string> = {}) => {
    const m = new Metadata();
    for (const [k, v] of Object.entries(values)) m.set(k, v);
    return m;
  };
  const call = (service: string, method: string, req: unknown, metadata = md({ "containerd-namespace": "h" })) =>
    new Promise<any>((resolve, reject) => ((client(service) as unknown as Record<string, Unary>)[method]!).call(client(service), req, metadata, (err, res) => (err ? reject(err) : resolve(res))));
  const refused = async (p: Promise<unknown>, code: status, details: string | RegExp) => {
    const err = (await p.then(
      () => assert.fail("expected a refusal"),
      (e: ServiceError) => e,
    )) as ServiceError;
    assert.equal(err.code, code, err.details);
    if (typeof details === "string") assert.equal(err.details, details);
    else assert.match(err.details, details);
  };
  const images = "containerd.services.images.v1.Images";

  before(async () => {
    p = await startTestPurser({ containerdAddress: socket });
  });
  after(async () => {
    for (const c of clients.values()) c.close();
    await p.stop();
    dir.remove();
  });

  test("no namespace, a bad namespace, a lease id past the bound", async () => {
    await refused(call(images, "list", { filters: [] }, md()), status.FAILED_PRECONDITION, "namespace is required: failed precondition");
    await refused(
      call(images, "list", { filters: [] }, md({ "containerd-namespace": "../etc" })),
      status.INVALID_ARGUMENT,
      'namespace validation: identifier "../etc" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument',
    );
    await refused(
      call(images, "create", { image: { name: "x", target: { mediaType: "m", digest: `sha256:${"a".repeat(64)}`, size: 1 } } }, md({ "containerd-namespace": "h", "containerd-lease": "l".repeat(5000) })),
      status.INVALID_ARGUMENT,
      /^containerd-lease greater than maximum length \(\d+ bytes\): invalid argument$/,
    );
    assert.deepEqual((await p.client.images.list("h")).result, []);
  });

  test("bad digests and filters get containerd's classes", async () => {
    const content = "containerd.services.content.v1.Content";
    await refused(call(content, "info", { digest: "sha256:../../etc/passwd" }), status.INVALID_ARGUMENT, /invalid argument$/);
    await refused(call(content, "info", { digest: `sha256:${"b".repeat(64)}` }), status.NOT_FOUND, `content digest sha256:${"b".repeat(64)}: not found`);
    await refused(call(images, "list", { filters: ["name=="] }), status.INVALID_ARGUMENT, /invalid argument$/);
    const plugins = await call("containerd.services.introspection.v1.Introspection", "plugins", { filters: ["type==io.containerd.snapshotter.v1"] });
    assert.deepEqual(plugins.plugins.map((x: { id: string }) => x.id), ["native"]);
  });

  test("Diff.Apply writes only into an active snapshot of the call's namespace", async () => {
    const r = await runCtr(socket, ["-n", "h", "images", "import", "--snapshotter", "native", "--no-unpack", fixturePath]);
    assert.equal(r.code, 0, r.stderr);
    const layer = (await p.client.content.list("h")).result.find((c) => c.labels["containerd.io/uncompressed"] === undefined && c.size === 408)!;
    const outside = join(dir.path, "outside");
    mkdirSync(outside);
    const diff = "containerd.services.diff.v1.Diff";
    const apply = (mounts: unknown[], ns = "h") =>
      call(diff, "apply", { diff: { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.size }, mounts }, md({ "containerd-namespace": ns }));
    const text = 'the mounts must be the one bind mount Prepare gave for an active snapshot of namespace "h": invalid argument';
    await refused(apply([{ type: "bind", source: outside, options: ["rbind", "rw"] }]), status.INVALID_ARGUMENT, text);
    const root = join(p.dataDir, "snapshots", "native", "snapshots");
    await refused(apply([{ type: "bind", source: `${root}/../../../outside`, options: [] }]), status.INVALID_ARGUMENT, text);
    await refused(apply([]), status.INVALID_ARGUMENT, text);
    // Another namespace's active snapshot, and a view: not this call's to write.
    const { result: theirs } = await p.client.snapshots.prepare("other", "theirs");
    await refused(apply([{ type: "bind", source: theirs[0]!.source, options: [] }]), status.INVALID_ARGUMENT, text);
    const { result: view } = await p.client.snapshots.view("h", "a-view");
    await refused(apply([{ type: "bind", source: view[0]!.source, options: [] }]), status.INVALID_ARGUMENT, text);
    assert.deepEqual(readdirSync(outside), []);
    assert.deepEqual(readdirSync(theirs[0]!.source), []);
    // Its own active snapshot: applied, and the uncompressed digest answered.
    const { result: mine } = await p.client.snapshots.prepare("h", "mine");
    const applied = await apply([{ type: "bind", source: mine[0]!.source, options: ["rbind", "rw"] }]);
    assert.deepEqual(applied.applied, { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: "sha256:ed3c263a66346928a1d4bdcd8c06edf49b16cf84dfa4789bfa4d97c422df7eed", size: applied.applied.size, annotations: {} });
    assert.ok(readdirSync(mine[0]!.source).length > 0);
    // A layer the namespace does not hold.
    await refused(
      call(diff, "apply", { diff: { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer.digest, size: 1 }, mounts: [{ type: "bind", source: theirs[0]!.source, options: [] }] }, md({ "containerd-namespace": "other" })),
      status.NOT_FOUND,
      `content digest ${layer.digest}: not found`,
    );
    await refused(
      call(diff, "apply", { diff: { mediaType: "application/vnd.oci.image.layer.v1.tar+encrypted", digest: layer.digest, size: 1 }, mounts: [{ type: "bind", source: mine[0]!.source, options: [] }] }),
      status.UNIMPLEMENTED,
      "unsupported diff media type: application/vnd.oci.image.layer.v1.tar+encrypted: not implemented",
    );
  });

  test("Content.Write: a first message with no ref, a write at the wrong offset", async () => {
    const content = client("containerd.services.content.v1.Content") as unknown as { write: (md: Metadata) => any };
    const stream = (messages: unknown[]) =>
      new Promise<{ responses: any[]; error?: ServiceError }>((resolve) => {
        const s = content.write.call(client("containerd.services.content.v1.Content"), md({ "containerd-namespace": "h" }));
        const responses: any[] = [];
        s.on("data", (d: unknown) => responses.push(d));
        s.on("error", (e: ServiceError) => resolve({ responses, error: e }));
        s.on("end", () => resolve({ responses }));
        for (const m of messages) s.write(m);
        s.end();
      });
    const noRef = await stream([{ action: "STAT", ref: "" }]);
    assert.equal(noRef.error?.code, status.INVALID_ARGUMENT);
    assert.equal(noRef.error?.details, "first message must have a reference: invalid argument");
    const wrong = await stream([
      { action: "STAT", ref: "w1" },
      { action: "WRITE", ref: "w1", offset: 5, data: Buffer.from("x") },
    ]);
    assert.equal(wrong.responses.length, 1);
    assert.equal(wrong.error?.code, status.OUT_OF_RANGE);
    assert.equal(wrong.error?.details, "write @5 must occur at current offset 0: out of range");
    // A good stream: stat, write, commit; the last response comes again at the end, as containerd sends it.
    const good = await stream([
      { action: "STAT", ref: "w2" },
      { action: "WRITE", ref: "w2", offset: 0, data: Buffer.from("abc") },
      { action: "COMMIT", ref: "w2", offset: 3, total: 3, expected: "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    ]);
    assert.equal(good.error, undefined);
    assert.deepEqual(good.responses.map((r) => [r.action, Number(r.offset), r.digest]), [
      ["STAT", 0, ""],
      ["WRITE", 3, ""],
      ["COMMIT", 3, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
      ["COMMIT", 3, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ]);
    // The same blob again: AlreadyExists before any byte moves (containerd's metadata writer).
    const again = await stream([{ action: "STAT", ref: "w3", expected: "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" }]);
    assert.equal(again.error?.code, status.ALREADY_EXISTS);
    assert.equal(again.error?.details, "content sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad: already exists");
    assert.deepEqual((await p.client.content.statuses("h")).result.map((s) => s.ref), ["w1"]);
  });

  test("Events.Publish and Forward check the topic, the namespace and the time", async () => {
    const events = "containerd.services.events.v1.Events";
    await refused(call(events, "publish", { topic: "nope", event: { type_url: "x", value: Buffer.alloc(0) } }), status.INVALID_ARGUMENT, `envelope topic "nope": must start with '/': invalid argument`);
    await refused(call(events, "publish", { topic: "/a/b c" }), status.INVALID_ARGUMENT, /^envelope topic "\/a\/b c": failed validation on component "b c": identifier "b c" must match/);
    await refused(call(events, "publish", { topic: "/ok" }, md()), status.FAILED_PRECONDITION, "failed publishing event: namespace is required: failed precondition");
    await refused(call(events, "forward", { envelope: { namespace: "h", topic: "/ok" } }), status.INVALID_ARGUMENT, "timestamp must be set on forwarded event: invalid argument");
    await call(events, "publish", { topic: "/tasks/exit", event: { type_url: "containerd.events.TaskExit", value: Buffer.alloc(0) } });
  });

  test("Events.Subscribe: a subscriber that stops reading is ended with ResourceExhausted past 16 MiB unread; one that reads gets every event", async () => {
    const events = "containerd.services.events.v1.Events";
    type Stream = NodeJS.ReadableStream & { cancel(): void; on(e: "data", f: (m: { topic: string }) => void): Stream; on(e: "error", f: (e: ServiceError) => void): Stream };
    // Each on its own connection: HTTP/2's connection window is shared, so a stream
    // left unread also stops its connection's other streams (the client's own doing).
    const Ctor = makeGenericClientConstructor(api.service(events), events);
    const own = [new Ctor(`unix:${socket}`, credentials.createInsecure()), new Ctor(`unix:${socket}`, credentials.createInsecure())];
    const subscribe = (c: Client) => (c as unknown as { subscribe(req: unknown, m: Metadata): Stream }).subscribe({ filters: ["topic~=^/flood/"] }, md());
    const got = { reader: 0, stuck: 0 };
    let stuckError: ServiceError | undefined;
    const reader = subscribe(own[0]!).on("data", () => got.reader++);
    const stuck = subscribe(own[1]!)
      .on("data", () => got.stuck++)
      .on("error", (e) => (stuckError = e));
    let readerError: ServiceError | undefined;
    reader.on("error", (e) => (readerError = e));
    // Both are subscribed once both hear this.
    await eventually(async () => {
      await call(events, "publish", { topic: "/flood/warm", event: { type_url: "x", value: Buffer.alloc(0) } });
      return got.reader > 0 && got.stuck > 0;
    }, "both subscriptions live");
    stuck.pause();
    const heard = { reader: got.reader, stuck: got.stuck };
    const mib = Buffer.alloc(1024 * 1024, 7);
    // Paced by the reader: it is never behind, the stuck one falls ever further.
    for (let i = 1; i <= 64; i++) {
      await call(events, "publish", { topic: "/flood/big", event: { type_url: "x", value: mib } });
      await eventually(() => got.reader === heard.reader + i || readerError !== undefined, `the reading subscriber gets event ${i}`);
    }
    assert.equal(readerError, undefined);
    stuck.resume();
    await eventually(() => stuckError !== undefined, "the stuck subscription ended");
    assert.equal(stuckError!.code, status.RESOURCE_EXHAUSTED, stuckError!.details);
    assert.equal(stuckError!.details, "events subscriber left more than 16777216 bytes of events unread: subscription ended: resource exhausted");
    assert.ok(got.stuck - heard.stuck < 64, `it got only what was buffered before its bound (${got.stuck - heard.stuck})`);
    // The reader goes on.
    await call(events, "publish", { topic: "/flood/after", event: { type_url: "x", value: Buffer.alloc(0) } });
    await eventually(() => got.reader === heard.reader + 65, "the reader hears what follows");
    reader.cancel();
    for (const c of own) c.close();
  });
});
