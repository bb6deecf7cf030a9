import { invalidArgument } from "../errors/errdefs.js";
import { NativeSnapshotter } from "./native.js";
import { inject, injectable } from "../di.js";
import { Tokens } from "../tokens.js";


/**
 * The snapshotters this process serves, by name (containerd's snapshots
 * service keeps one map of them). purser has one backend, `native`.
 */
@injectable()
export class Snapshotters {
  private readonly byName = new Map<string, NativeSnapshotter>();

  constructor(@inject(Tokens.DataDir) dataDir: string) {
    const native = new NativeSnapshotter(dataDir);
    this.byName.set(native.name, native);
  }

  /** containerd `services/snapshots` `getSnapshotter`, with its texts. */
  get(name: string): NativeSnapshotter {
    if (name === "") throw invalidArgument("snapshotter argument missing");
    const sn = this.byName.get(name);
    if (!sn) throw invalidArgument(`snapshotter not loaded: ${name}`);
    return sn;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  all(): NativeSnapshotter[] {
    return [...this.byName.values()];
  }
}
