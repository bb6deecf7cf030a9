import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { container as rootContainer } from "../di.js";
import { systemClock, type Clock, CommandRunner } from "../commands/command-runner.js";
import { ContentService, defaultContentOptions, type ContentOptions } from "../content/content-service.js";
import { parseSharingPolicy } from "../content/sharing-policy.js";
import { DefinitionEndpoints, type ServiceOptions } from "../endpoints/definition-endpoints.js";
import { EventStore, defaultEventStoreOptions, type EventStoreOptions } from "../events/event-store.js";
import { defaultGcOptions, GcService, type GcOptions } from "../gc/gc-service.js";
import type { Logger } from "../observability/logger.js";
import type { Projection } from "../projections/projection.js";
import type { RebuildProgress } from "../protocol/results.js";
import { defaultRuntimeOptions, ProjectionRuntime, type RuntimeOptions } from "../projections/runtime.js";
import { AsOfViews } from "../projections/time-travel.js";
import { ViewRebuilder } from "../projections/view-rebuilder.js";
import { ViewStoreHolder } from "../projections/view-store.js";
import { BlobStore } from "../content/blob-store.js";
import { SnapshotService } from "../snapshots/snapshot-service.js";
import { ContainerBuilder } from "../containers/container-builder.js";
import { Snapshotters } from "../snapshots/snapshotters.js";
import { Tokens } from "../tokens.js";
import { noTenantAuthority, TenantService, type TenantAuthority } from "../security/tenant-service.js";
import { connectNats, defaultInboxPrefix, type ConnectionSettings } from "../protocol/connection.js";
import { defaultUnpackLimits, ImageUnpacker, type UnpackLimits } from "../unpack/unpacker.js";
import { ServiceAnnouncer } from "./service-announcer.js";
import { CommandService } from "./command-service.js";
import { ContainerdApiServer } from "../containerd-api/gateway.js";
import { commands, queries, resourceProjections } from "./resources.js";

export interface PurserConfig {
  /** The NATS server(s); user info in the URL is used as credentials and never logged. */
  natsUrl: string;
  /** How the service proves who it is to NATS (docs/security.md): creds, nkey, user/password, token, TLS, inbox prefix. */
  credentials?: Omit<ConnectionSettings, "servers">;
  /** Holds the LMDB view generations, blobs, ingests, snapshot directories and scratch views. */
  dataDir: string;
  log: Logger;
  clock?: Clock;
  eventStore?: Partial<EventStoreOptions>;
  runtime?: Partial<RuntimeOptions>;
  service?: Partial<ServiceOptions>;
  /** Extra projections (tests use this to inject faults). */
  extraProjections?: readonly Projection[];
  /** The content store: sharing policy, fsync, writer locks (docs/content.md). */
  content?: Partial<ContentOptions>;
  /** The garbage collector: scheduler thresholds, lock, host id (docs/gc.md). */
  gc?: Partial<GcOptions>;
  /** Who admits tenants (the embedded nats-server's configuration); without it `tenants.*` answer FailedPrecondition. */
  tenants?: TenantAuthority;
  /** Bounds on what one layer may expand to (docs/unpack.md). */
  unpack?: Partial<UnpackLimits>;
  /** Serve containerd's gRPC API on this unix socket (docs/containerd-api.md). */
  containerdAddress?: string;
}

/**
 * A running purser process, and the one composition root: the configuration
 * and the two things made by hand (the NATS connection, the serving view
 * generation) are registered as values, every service is a tsyringe
 * singleton built from them, and `start` brings them up in order and mounts
 * their endpoints (docs/architecture.md).
 */
export class PurserServer {
  private constructor(
    readonly nc: NatsConnection,
    readonly store: EventStore,
    readonly runtime: ProjectionRuntime,
    readonly holder: ViewStoreHolder,
    readonly service: CommandService,
    readonly projections: readonly Projection[],
    /** The snapshotters and the in-process snapshot API (unpacking uses it: docs/snapshots.md). */
    readonly snapshots: SnapshotService,
    /** Unpacks images into snapshot chains (`images.unpack`: docs/unpack.md). */
    readonly unpacker: ImageUnpacker,
    /** The content plane: blobs on this host's disk, ingests, and their endpoints. */
    readonly content: ContentService,
    /** The garbage collector (docs/gc.md). */
    readonly gc: GcService,
    private readonly views: ViewRebuilder,
    private readonly asOfViews: AsOfViews,
    /** containerd's API on a unix socket, when configured. */
    readonly containerdApi: ContainerdApiServer | undefined,
    /** Tells clients this process serves, at start and after each reconnect. */
    private readonly announcer: ServiceAnnouncer,
  ) {}

  static async start(config: PurserConfig): Promise<PurserServer> {
    const contentOptions = { ...defaultContentOptions, ...config.content };
    parseSharingPolicy(contentOptions.sharingPolicy); // refuse a bad configuration before connecting
    // noAsyncTraces: nats.js otherwise builds two Error objects (stack
    // captures) per request "in case it times out", measured at ~10% of the
    // CPU of a command; our timeouts say what timed out without them.
    const nc = await connectNats({ ...config.credentials, servers: config.natsUrl }, { name: "purser-server", maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
    const scratch = join(config.dataDir, "scratch");
    mkdirSync(scratch, { recursive: true });

    const c = rootContainer.createChildContainer();
    c.register(Tokens.NatsConnection, { useValue: nc });
    c.register(Tokens.DataDir, { useValue: config.dataDir });
    c.register(Tokens.ScratchDir, { useValue: scratch });
    c.register(Tokens.Logger, { useValue: config.log });
    c.register(Tokens.Clock, { useValue: config.clock ?? systemClock });
    c.register(Tokens.EventStoreOptions, { useValue: { ...defaultEventStoreOptions, ...config.eventStore } });
    c.register(Tokens.RuntimeOptions, { useValue: { ...defaultRuntimeOptions, ...config.runtime } });
    c.register(Tokens.ServiceOptions, { useValue: { minRvTimeoutMs: 5000, replyPrefixes: [defaultInboxPrefix], ...config.service } });
    c.register(Tokens.ContentOptions, { useValue: contentOptions });
    c.register(Tokens.UnpackLimits, { useValue: { ...defaultUnpackLimits, ...config.unpack } });
    c.register(Tokens.GcOptions, { useValue: { ...defaultGcOptions, hostId: hostname(), ...config.gc } });
    c.register(Tokens.Projections, { useValue: [...resourceProjections(config.dataDir), ...(config.extraProjections ?? [])] });
    c.register(Tokens.ViewStoreHolder, { useValue: new ViewStoreHolder(ViewRebuilder.openCurrent(config.dataDir, config.log)) });
    c.registerSingleton(Tokens.EventStore, EventStore);
    c.registerSingleton(Tokens.AsOfViews, AsOfViews);
    c.registerSingleton(Tokens.ProjectionRuntime, ProjectionRuntime);
    c.registerSingleton(Tokens.ViewRebuilder, ViewRebuilder);
    c.registerSingleton(Tokens.CommandRunner, CommandRunner);
    c.registerSingleton(Tokens.DefinitionEndpoints, DefinitionEndpoints);
    c.registerSingleton(Tokens.CommandService, CommandService);
    c.registerSingleton(Tokens.BlobStore, BlobStore);
    c.registerSingleton(Tokens.ContentService, ContentService);
    c.registerSingleton(Tokens.Snapshotters, Snapshotters);
    c.registerSingleton(Tokens.SnapshotService, SnapshotService);
    c.registerSingleton(Tokens.ImageUnpacker, ImageUnpacker);
    c.registerSingleton(Tokens.ContainerBuilder, ContainerBuilder);
    c.registerSingleton(Tokens.GcService, GcService);
    c.register(Tokens.TenantAuthority, { useValue: config.tenants ?? noTenantAuthority });
    c.registerSingleton(Tokens.TenantService, TenantService);

    const server = new PurserServer(
      nc,
      c.resolve(Tokens.EventStore),
      c.resolve(Tokens.ProjectionRuntime),
      c.resolve(Tokens.ViewStoreHolder),
      c.resolve(Tokens.CommandService),
      c.resolve(Tokens.Projections),
      c.resolve(Tokens.SnapshotService),
      c.resolve(Tokens.ImageUnpacker),
      c.resolve(Tokens.ContentService),
      c.resolve(Tokens.GcService),
      c.resolve(Tokens.ViewRebuilder),
      c.resolve(Tokens.AsOfViews),
      config.containerdAddress ? new ContainerdApiServer(c.resolve<CommandService>(Tokens.CommandService), c.resolve<ImageUnpacker>(Tokens.ImageUnpacker), c.resolve<ProjectionRuntime>(Tokens.ProjectionRuntime), config.dataDir, config.log) : undefined,
      new ServiceAnnouncer(nc, config.log),
    );
    const definitions = c.resolve<DefinitionEndpoints>(Tokens.DefinitionEndpoints);
    await server.snapshots.start();
    // Serve first: with many streams the views replay for a while, and commands
    // are safe meanwhile (refusals wait for the views; acceptances carry OCC).
    await server.service.start();
    server.service.mount([...commands.map((d) => definitions.command(d)), ...queries.map((d) => definitions.query(d)), ...server.snapshots.endpoints()]);
    await server.runtime.start();
    await server.content.start();
    server.service.mount(server.content.endpoints());
    await server.gc.start();
    server.service.mount([
      ...server.gc.endpoints(),
      ...server.unpacker.endpoints(),
      ...c.resolve<ContainerBuilder>(Tokens.ContainerBuilder).endpoints(),
      ...server.views.endpoints(),
      ...c.resolve<TenantService>(Tokens.TenantService).endpoints(),
    ]);
    // Every endpoint's subscription is on the server before start() returns:
    // a client connected elsewhere may send at once (tests restart and ask).
    await nc.flush();
    server.announcer.start();
    if (server.containerdApi) {
      try {
        await server.containerdApi.listen(config.containerdAddress!);
      } catch (err) {
        await server.stop();
        throw err;
      }
    }
    return server;
  }

  /** Replays the log into fresh views and swaps them in (ViewRebuilder). */
  rebuild(onProgress?: (p: RebuildProgress) => void): Promise<{ generation: string; events: number }> {
    return this.views.rebuild(onProgress);
  }

  private stopping?: Promise<void>;

  /** Stops everything, once: a second call waits for the first (a stopped server stops again at once). */
  stop(): Promise<void> {
    return (this.stopping ??= this.stopOnce());
  }

  private async stopOnce(): Promise<void> {
    this.announcer.stop();
    await this.containerdApi?.close();
    await this.service.stop();
    await this.gc.stop();
    await this.unpacker.stop();
    await this.content.stop();
    await this.runtime.stop();
    await this.asOfViews.close();
    await this.nc.drain().catch(() => {});
    await this.views.close();
  }
}
