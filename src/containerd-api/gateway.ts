import { promises as fs } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { Server, ServerCredentials, type ServerDuplexStream, type ServerWritableStream, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "../observability/logger.js";
import { loadContainerdApi } from "./protos.js";
import { PurserCalls, type EndpointDirectory } from "./purser-calls.js";
import { containersService, listContainersStream } from "./services/containers.js";
import { contentService, listContent, readContent } from "./services/content.js";
import { writeContent } from "./services/content-write.js";
import { listSnapshots, snapshotsService } from "./services/snapshots.js";
import { diffService, type DiffApplier } from "./services/diff.js";
import { EventsService, type EventFeed } from "./services/events.js";
import { imagesService } from "./services/images.js";
import { leasesService } from "./services/leases.js";
import { namespacesService } from "./services/namespaces.js";
import { introspectionService, versionService } from "./services/system.js";
import { unimplementedService } from "./services/unimplemented.js";
import { grpcFailure, unaryMethods } from "./unary.js";

/** How long a stop lets calls in flight finish before it cuts them. */
const stopGraceMs = 2000;

/**
 * containerd 1.6's gRPC API on a unix socket (docs/containerd-api.md): what
 * `ctr --address` and containerd's Go client speak. Each call runs the
 * purser endpoint a NATS request would (purser-calls.ts). The socket is the
 * trust boundary, as containerd's: mode 0660, owned by the service's user.
 */
export class ContainerdApiServer {
  private server?: Server;
  private path?: string;
  private events?: EventsService;
  readonly calls: PurserCalls;

  constructor(
    endpoints: EndpointDirectory,
    private readonly diffs: DiffApplier,
    private readonly feed: EventFeed,
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {
    this.calls = new PurserCalls(endpoints);
  }

  async listen(path: string): Promise<void> {
    const api = loadContainerdApi();
    const server = new Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024, "grpc.max_send_message_length": 16 * 1024 * 1024 });
    const add = (name: string, handlers: Parameters<typeof unaryMethods>[0], extra: UntypedServiceImplementation = {}) => {
      server.addService(api.service(name), { ...unaryMethods(handlers, this.log, name), ...extra });
    };
    const calls = this.calls;
    add("containerd.services.namespaces.v1.Namespaces", namespacesService(calls));
    add("containerd.services.leases.v1.Leases", leasesService(calls));
    add("containerd.services.images.v1.Images", imagesService(calls));
    add("containerd.services.containers.v1.Containers", containersService(calls), {
      listStream: (call: ServerWritableStream<any, any>) => this.serverStream(call, "Containers/ListStream", () => listContainersStream(calls, call)),
    });
    add("containerd.services.content.v1.Content", contentService(calls), {
      list: (call: ServerWritableStream<any, any>) => this.serverStream(call, "Content/List", () => listContent(calls, call)),
      read: (call: ServerWritableStream<any, any>) => this.serverStream(call, "Content/Read", () => readContent(calls, call)),
      write: (call: ServerDuplexStream<any, any>) => void writeContent(calls, call, this.log),
    });
    add("containerd.services.snapshots.v1.Snapshots", snapshotsService(calls), {
      list: (call: ServerWritableStream<any, any>) => this.serverStream(call, "Snapshots/List", () => listSnapshots(calls, call)),
    });
    add("containerd.services.diff.v1.Diff", diffService(calls, this.diffs));
    const events = (this.events = new EventsService(api, calls, this.feed, this.log));
    add("containerd.services.events.v1.Events", events.unary(), {
      subscribe: (call: ServerWritableStream<any, any>) => events.subscribe(call),
    });
    add("containerd.services.version.v1.Version", versionService());
    add("containerd.services.introspection.v1.Introspection", introspectionService(this.dataDir));
    server.addService(api.service("containerd.services.tasks.v1.Tasks"), unimplementedService(api.service("containerd.services.tasks.v1.Tasks"), "purser stores metadata and runs no tasks"));

    await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await removeStaleSocket(path);
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    // Created under the umask (no one else may connect); then containerd's mode: owner and group.
    await fs.chmod(path, 0o660);
    this.server = server;
    this.path = path;
    this.log.info("containerd api listening", { address: path });
  }

  /** A server-streaming method: its messages, then the end, or the error's status. */
  private serverStream(call: ServerWritableStream<any, any>, method: string, body: () => Promise<void>): void {
    body().then(
      () => call.end(),
      (err) => {
        if (!call.cancelled) call.emit("error", grpcFailure(err, this.log, method));
      },
    );
  }

  /** The socket's path, once listening. */
  get address(): string | undefined {
    return this.path;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.events?.close();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, stopGraceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    if (this.path) await fs.rm(this.path, { force: true });
  }
}

/**
 * A socket file left by a process that is gone is removed (containerd does
 * the same); one that a live process answers on is not taken over.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!stat.isSocket()) throw new Error(`--containerd-address ${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
  if (live) throw new Error(`--containerd-address ${path} is in use by another process`);
  await fs.rm(path, { force: true });
}
