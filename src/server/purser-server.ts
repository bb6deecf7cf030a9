import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { encode } from "@msgpack/msgpack";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { container as rootContainer } from "../di.js";
import { systemClock, type Clock, CommandRunner } from "../commands/command-runner.js";
import { ContentService, defaultContentOptions, type ContentOptions } from "../content/content-service.js";
import { parseSharingPolicy } from "../content/sharing-policy.js";
import { EventStore, defaultEventStoreOptions, type EventStoreOptions } from "../events/event-store.js";
import { globalSubject } from "../protocol/subjects.js";
import { defaultGcOptions, GcService, type GcOptions } from "../gc/gc-service.js";
import type { Logger } from "../observability/logger.js";
import { SnapshotService } from "../snapshots/snapshot-service.js";
import { ImageUnpacker } from "../unpack/unpacker.js";
import type { Projection } from "../projections/projection.js";
import { replayIntoFreshViews } from "../projections/rebuild.js";
import type { RebuildProgress } from "../protocol/results.js";
import { defaultRuntimeOptions, ProjectionRuntime, type RuntimeOptions } from "../projections/runtime.js";
import {
  currentGeneration,
  generationPath,
  nextGeneration,
  removeGeneration,
  setCurrentGeneration,
} from "../projections/view-generations.js";
import { AsOfViews } from "../projections/time-travel.js";
import { ViewStore, ViewStoreHolder } from "../projections/view-store.js";
import { closeGenerationSafely, openGenerationSafely, removeMarker } from "../projections/view-durability.js";
import { Tokens } from "../tokens.js";
import { CommandService, type ServiceOptions } from "./command-service.js";
import { RequestHeader } from "../protocol/request-headers.js";
import { commands, projections, queries } from "./resources.js";

export interface PurserConfig {
  natsUrl: string;
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
}

/** A running purser process: the one composition root wires everything here. */
export class PurserServer {
  /** The snapshotters and the in-process snapshot API (unpacking uses it: docs/snapshots.md). */
  snapshots!: SnapshotService;
  /** Unpacks images into snapshot chains (`images.unpack`: docs/unpack.md). */
  unpacker!: ImageUnpacker;
  /** The content plane: blobs on this host's disk, ingests, and their endpoints. */
  content!: ContentService;
  /** The garbage collector (docs/gc.md). */
  gc!: GcService;

  private constructor(
    readonly nc: NatsConnection,
    readonly store: EventStore,
    readonly runtime: ProjectionRuntime,
    readonly holder: ViewStoreHolder,
    readonly service: CommandService,
    readonly projections: readonly Projection[],
    private readonly config: PurserConfig,
    private readonly asOfViews: AsOfViews,
  ) {}

  static async start(config: PurserConfig): Promise<PurserServer> {
    const contentOptions = { ...defaultContentOptions, ...config.content };
    parseSharingPolicy(contentOptions.sharingPolicy); // refuse a bad configuration before connecting
    // noAsyncTraces: nats.js otherwise builds two Error objects (stack
    // captures) per request "in case it times out", measured at ~10% of the
    // CPU of a command; our timeouts say what timed out without them.
    const nc = await connect({ servers: config.natsUrl, name: "purser-server", maxReconnectAttempts: -1, noAsyncTraces: true });
    const generation = openGenerationSafely(config.dataDir, config.log);
    const holder = new ViewStoreHolder(ViewStore.open(generationPath(config.dataDir, generation)));
    const allProjections = [...projections, ...(config.extraProjections ?? [])];

    const c = rootContainer.createChildContainer();
    c.register(Tokens.NatsConnection, { useValue: nc });
    c.register(Tokens.EventStoreOptions, { useValue: { ...defaultEventStoreOptions, ...config.eventStore } });
    c.register(Tokens.ViewStoreHolder, { useValue: holder });
    c.register(Tokens.Projections, { useValue: allProjections });
    c.register(Tokens.RuntimeOptions, { useValue: { ...defaultRuntimeOptions, ...config.runtime } });
    c.register(Tokens.Clock, { useValue: config.clock ?? systemClock });
    c.register(Tokens.Logger, { useValue: config.log });
    c.register(Tokens.ServiceOptions, { useValue: { minRvTimeoutMs: 5000, ...config.service } });
    c.registerSingleton(Tokens.EventStore, EventStore);
    const scratch = join(config.dataDir, "scratch");
    mkdirSync(scratch, { recursive: true });
    const asOfViews = new AsOfViews(c.resolve<EventStore>(Tokens.EventStore), () => allProjections, scratch, config.log);
    c.register(Tokens.AsOfViews, { useValue: asOfViews });
    c.registerSingleton(Tokens.ProjectionRuntime, ProjectionRuntime);
    c.registerSingleton(Tokens.CommandRunner, CommandRunner);
    c.registerSingleton(Tokens.CommandService, CommandService);

    const server = new PurserServer(
      nc,
      c.resolve<EventStore>(Tokens.EventStore),
      c.resolve<ProjectionRuntime>(Tokens.ProjectionRuntime),
      holder,
      c.resolve<CommandService>(Tokens.CommandService),
      allProjections,
      config,
      asOfViews,
    );
    server.content = new ContentService(
      config.dataDir,
      contentOptions,
      c.resolve<CommandRunner>(Tokens.CommandRunner),
      server.runtime,
      server.store,
      config.clock ?? systemClock,
      config.log,
    );
    server.snapshots = new SnapshotService(config.dataDir, c.resolve<CommandRunner>(Tokens.CommandRunner), server.runtime, config.log);
    await server.snapshots.start();
    // Serve first: with many streams the views replay for a while, and commands
    // are safe meanwhile (refusals wait for the views; acceptances carry OCC).
    await server.service.start([...commands, ...server.snapshots.commands], [...queries, ...server.snapshots.queries]);
    await server.runtime.start();
    await server.content.start(server.service);
    const eventStoreOptions = { ...defaultEventStoreOptions, ...config.eventStore };
    server.gc = new GcService(
      config.dataDir,
      { ...defaultGcOptions, hostId: hostname(), ...config.gc },
      server.store,
      server.runtime,
      server.content.blobs,
      () => server.snapshots.snapshotters.all(),
      config.clock ?? systemClock,
      config.log,
      eventStoreOptions.replicas,
      eventStoreOptions.duplicateWindowMs,
    );
    await server.gc.start(server.service);
    server.unpacker = new ImageUnpacker(c.resolve<CommandRunner>(Tokens.CommandRunner), server.runtime, server.store, server.content.blobs, server.snapshots, config.log);
    server.unpacker.start(server.service);
    server.service.addRawEndpoint("system-rebuild", globalSubject("system", "rebuild"), async (_payload, msg) => {
      const progressSubject = msg.headers?.get(RequestHeader.ProgressSubject);
      const result = await server.rebuild((p) => {
        if (progressSubject) nc.publish(progressSubject, encode(p));
      });
      return { rv: 0, result };
    });
    // Every endpoint's subscription is on the server before start() returns:
    // a client connected elsewhere may send at once (tests restart and ask).
    await nc.flush();
    return server;
  }

  /**
   * Replays the log into the next view generation while the current one serves,
   * then swaps it in: the live runtime stops, the holder switches, and the
   * runtime resumes from the new generation's checkpoints (catching up whatever
   * arrived during the replay).
   */
  async rebuild(onProgress?: (p: RebuildProgress) => void): Promise<{ generation: string; events: number }> {
    const dataDir = this.config.dataDir;
    const previous = currentGeneration(dataDir);
    const next = nextGeneration(dataDir);
    let events = 0;
    const fresh = await replayIntoFreshViews(this.store, this.projections, generationPath(dataDir, next), this.config.log, (p) => {
      events = p.events;
      onProgress?.(p);
    });
    await this.runtime.stop();
    const old = this.holder.swap(fresh);
    setCurrentGeneration(dataDir, next);
    openGenerationSafely(dataDir, this.config.log);
    await this.runtime.start();
    await old.close();
    removeGeneration(dataDir, previous);
    removeMarker(dataDir, previous);
    this.config.log.info("views rebuilt", { generation: next, events });
    return { generation: next, events };
  }

  async stop(): Promise<void> {
    await this.service.stop();
    await this.gc?.stop();
    await this.unpacker.stop();
    await this.content.stop();
    await this.runtime.stop();
    await this.asOfViews.close();
    await this.nc.drain().catch(() => {});
    await this.holder.current.close();
    closeGenerationSafely(this.config.dataDir, currentGeneration(this.config.dataDir));
  }
}
