import type { Projection } from "../../src/projections/projection.js";

/**
 * Counts the events applied per stream, in the same transaction as every other
 * view row: if an event were ever applied twice (or skipped), the count would
 * differ from the stream's sequence. Full-state views cannot show that.
 */
export const countingProjection: Projection = {
  name: "test-counter",
  databases: ["test-counter"],
  apply(views, stored) {
    const db = views.db<number, string>("test-counter");
    db.putSync(stored.stream, (db.get(stored.stream) ?? 0) + 1);
  },
};
