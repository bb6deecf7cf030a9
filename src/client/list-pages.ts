import { decode } from "@msgpack/msgpack";
import type { PurserClient, QueryOptions, Reply } from "./purser-client.js";

/** A page of a list reply: `items` is a msgpack array of records, `next` the cursor (docs/protocol.md). */
interface ListPage {
  items: Uint8Array;
  usage?: Uint8Array;
  next?: string;
}

/** Room for the reply around the records (rv, field names, the cursor). */
const replyOverhead = 16 * 1024;

/**
 * Reads every page of an images or containers list and returns the records
 * with the rv of the first page. Later pages are read at least at that rv, so
 * they are never older than the first; a list that needs more than one page
 * is not a single point-in-time snapshot (each page is).
 */
export async function listAllPages<R>(
  client: PurserClient,
  namespace: string,
  resource: string,
  filters: readonly string[],
  opts: QueryOptions = {},
): Promise<Reply<R[]>> {
  const { rv, result } = await listAllPagesWith<R, never>(client, namespace, resource, filters, {}, opts);
  return { rv, result: result.records };
}

/**
 * {@link listAllPages} with extra request fields (`usage: true` for images),
 * returning each page's companion values (`usage`) beside the records.
 */
export async function listAllPagesWith<R, C>(
  client: PurserClient,
  namespace: string,
  resource: string,
  filters: readonly string[],
  extra: Record<string, unknown>,
  opts: QueryOptions = {},
): Promise<Reply<{ records: R[]; companions: C[] }>> {
  const maxPayload = client.nc.info?.max_payload ?? 1024 * 1024;
  const maxBytes = Math.max(1024, maxPayload - replyOverhead);
  const records: R[] = [];
  const companions: C[] = [];
  let rv: number | undefined;
  let after: string | undefined;
  do {
    const reply = await client.query<ListPage>(
      namespace,
      resource,
      "list",
      { ...extra, filters, maxBytes, ...(after === undefined ? {} : { after }) },
      { ...opts, minRv: Math.max(opts.minRv ?? 0, rv ?? 0) },
    );
    rv ??= reply.rv;
    for (const record of decode(reply.result.items) as R[]) records.push(record);
    if (reply.result.usage) for (const c of decode(reply.result.usage) as C[]) companions.push(c);
    after = reply.result.next;
  } while (after !== undefined);
  return { rv: rv!, result: { records, companions } };
}
