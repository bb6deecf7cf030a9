import { once } from "node:events";
import { Transform } from "node:stream";
import type { Command } from "commander";
import { invalidArgument, isPurserError } from "../errors/errdefs.js";
import { digestError } from "../validation/digest.js";
import { withSession } from "./context.js";
import { ExitError, labelsCell, logrusError, parseLabelArgs, printJson, table } from "./output.js";
import { humanDuration, humanSize } from "./units.js";
import { terminalBar } from "./terminal-bar.js";

/**
 * `purser content ls|info|label|rm|get|ingest|active|abort`, as `ctr content`
 * prints them (columns, `-q`, tab-aligned tables); `--json` for machines.
 */
/** ctr parses a digest itself (go-digest's `digest.Parse`) and fails with go-digest's bare text. */
function parseDigest(digest: string): void {
  const bad = digestError(digest);
  if (bad) throw new ExitError(bad);
}

export function registerContentCommands(program: Command): void {
  const content = program.command("content").description("manage content");

  content
    .command("list")
    .alias("ls")
    .description("list all blobs in the namespace")
    .option("-q, --quiet", "print only the blob digest")
    .argument("[filters...]", "containerd filters on digest and labels.<key>; several are ORed")
    .action(async (filters: string[], opts: { quiet?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.content.list(s.namespace, filters, { minRv: s.minRv(s.namespace) });
        if (s.options.json) return printJson(result);
        if (opts.quiet) return void process.stdout.write(result.map((r) => r.digest + "\n").join(""));
        const now = Date.now();
        const rows = result.map((r) => [r.digest, humanSize(r.size), humanDuration(now - Date.parse(r.createdAt)), labelsCell(r.labels)]);
        process.stdout.write(table(["DIGEST", "SIZE", "AGE", "LABELS"], rows, { padchar: "\t", headerTerminated: false, rowsTerminated: false }));
      }),
    );

  content
    .command("info")
    .description("show a blob's metadata")
    .argument("<digest>", "blob digest")
    .action(async (digest: string, _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.content.info(s.namespace, digest, { minRv: s.minRv(s.namespace) });
        printJson(result);
      }),
    );

  content
    .command("label")
    .description("add labels to content (key= removes)")
    .argument("<digest>", "blob digest")
    .argument("[labels...]", "labels as key=value")
    .action(async (digest: string, labels: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        parseDigest(digest);
        const set = parseLabelArgs(labels);
        const paths = Object.keys(set).map((k) => `labels.${k}`);
        // As ctr: nothing to set reads the labels instead of clearing them.
        const record =
          paths.length === 0
            ? (await s.client.content.info(s.namespace, digest, { minRv: s.minRv(s.namespace) })).result
            : await s.client.content.update(s.namespace, digest, set, paths).then((reply) => {
                s.wrote(s.namespace, reply.rv);
                return reply.result;
              });
        if (s.options.json) return printJson(record);
        const keys = Object.keys(record.labels).sort();
        process.stdout.write(keys.map((k) => `${k}=${record.labels[k]}`).join(",") + "\n");
      }),
    );

  content
    .command("delete")
    .aliases(["del", "remove", "rm"])
    .description("remove one or more blobs from the namespace (the bytes go once no namespace holds them)")
    .argument("<digests...>", "blob digests")
    .action(async (digests: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        let failure: ExitError | undefined;
        // As ctr: each failure is logged and the first one is the exit error; a blob that is not there is neither.
        for (const digest of digests) {
          const bad = digestError(digest);
          if (bad) {
            process.stderr.write(logrusError(`could not delete ${digest}`, bad));
            failure ??= new ExitError(bad);
            continue;
          }
          try {
            const reply = await s.client.content.delete(s.namespace, digest);
            s.wrote(s.namespace, reply.rv);
          } catch (err) {
            if (!isPurserError(err, "NotFound")) {
              process.stderr.write(logrusError(`could not delete ${digest}`, (err as Error).message));
              failure ??= new ExitError((err as Error).message);
            }
            continue;
          }
          process.stdout.write(digest + "\n");
        }
        if (failure) throw failure;
      }),
    );

  content
    .command("get")
    .description("write a blob's bytes to stdout")
    .argument("<digest>", "blob digest")
    .action(async (digest: string, _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        parseDigest(digest);
        // Not pipeline(): a failed read must end the command with its error, not destroy stdout.
        for await (const chunk of s.client.content.reader(s.namespace, digest, { minRv: s.minRv(s.namespace) })) {
          if (!process.stdout.write(chunk as Buffer)) await once(process.stdout, "drain");
        }
      }),
    );

  content
    .command("ingest")
    .description("accept content from stdin into the store")
    .argument("[ref]", "the ingest's reference (a name for the transaction)")
    .option("--expected-size <n>", "validate against this size")
    .option("--expected-digest <digest>", "verify content against this digest")
    .action(async (ref: string | undefined, opts: { expectedSize?: string; expectedDigest?: string }, cmd: Command) => {
      const expected = opts.expectedDigest ?? "";
      if (expected !== "") parseDigest(expected);
      if (!ref) throw new ExitError("must specify a transaction reference");
      const size = opts.expectedSize === undefined ? 0 : Number(opts.expectedSize);
      if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument(`--expected-size must be a non-negative integer`);
      await withSession(cmd, async (s) => {
        const progress = await ingestProgress(ref, size);
        try {
          const result = await s.client.content
            .writeBlob(s.namespace, ref, process.stdin.pipe(progress.counter), {
              expected: expected || undefined,
              size: size || undefined,
              onProgress: progress.acknowledged,
              viaIngest: true,
              // containerd's client waits for the lock silently; say why nothing happens.
              onLockWait: (locked) =>
                process.stderr.write(`purser: waiting for ref ${JSON.stringify(ref)}: ${locked} (another writer has it; it is free when that writer ends, or seconds after it is gone)\n`),
            })
            .catch(async (err: unknown) => {
              // As ctr's content.Copy over the remote writer (an already existing blob is not a failure there).
              const { isCommitFailure } = await import("../client/content-api.js");
              if (isCommitFailure(err)) throw new ExitError(`failed commit on ref ${JSON.stringify(ref)}: commit failed: ${(err as Error).message}`);
              throw err;
            });
          if (result.rv > 0) s.wrote(s.namespace, result.rv);
          progress.stop();
          if (s.options.json) printJson(result);
        } finally {
          progress.stop();
        }
      });
    });

  content
    .command("active")
    .description("display active ingests")
    .argument("[filters...]", "containerd filters on ref, e.g. ref~=layer")
    .action(async (filters: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.content.statuses(s.namespace, filters, { minRv: s.minRv(s.namespace) });
        if (s.options.json) return printJson(result);
        const now = Date.now();
        const rows = result.map((st) => [st.ref, humanSize(st.offset), humanDuration(now - Date.parse(st.startedAt))]);
        process.stdout.write(table(["REF", "SIZE", "AGE"], rows, { padchar: "\t" }));
      }),
    );

  content
    .command("abort")
    .description("abort an active ingest and remove its bytes")
    .argument("<ref>", "the ingest's reference")
    .action(async (ref: string, _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const reply = await s.client.content.abort(s.namespace, ref);
        s.wrote(s.namespace, reply.rv);
      }),
    );
}

/**
 * A progress bar on stderr while stdin is ingested, when stderr is a
 * terminal: bytes read and acknowledged, and the rate.
 */
async function ingestProgress(ref: string, total: number) {
  const bar = await terminalBar({
    format: `${ref} [{bar}] {value}/{total} | {speed}`,
    hideCursor: true,
    formatValue: (v, _o, type) => (type === "value" || type === "total" ? humanSize(v) : String(v)),
  });
  const started = Date.now();
  let shown = false;
  let read = 0;
  const show = (value: number) => {
    if (!bar) return;
    if (!shown) {
      bar.start(Math.max(total, value), value, { speed: "" });
      shown = true;
    }
    if (total === 0) bar.setTotal(Math.max(read, value));
    const seconds = (Date.now() - started) / 1000;
    bar.update(value, { speed: seconds > 0 ? `${humanSize(value / seconds)}/s` : "" });
  };
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      read += chunk.length;
      done(null, chunk);
    },
  });
  return {
    counter,
    acknowledged: (p: { offset: number }) => show(p.offset),
    stop: () => {
      if (shown) bar?.stop();
      shown = false;
    },
  };
}
