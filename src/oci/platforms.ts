import { invalidArgument } from "../errors/errdefs.js";
import type { Platform } from "./descriptor.js";

/**
 * containerd's `platforms` package, as much of it as images need:
 * normalization (`Normalize`), formatting (`Format`), parsing (`Parse`), the
 * host's platform (`DefaultSpec`), and the matchers `Only` (the host plus
 * what it can run: amd64 runs 386, arm64 runs arm v8…v5, arm vN runs vN-1…v5)
 * and `OnlyStrict`, which order candidates by preference (`Less`).
 */

export interface PlatformMatcher {
  match(p: Platform): boolean;
  /** True when `a` is preferred over `b`. */
  less(a: Platform, b: Platform): boolean;
}

/** `normalizeArch`: lower case and containerd's aliases. */
function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  arch = arch.toLowerCase();
  variant = variant.toLowerCase();
  switch (arch) {
    case "i386":
      return { architecture: "386", variant: "" };
    case "x86_64":
    case "x86-64":
    case "amd64":
      return { architecture: "amd64", variant: variant === "v1" ? "" : variant };
    case "aarch64":
    case "arm64":
      return { architecture: "arm64", variant: variant === "8" || variant === "v8" ? "" : variant };
    case "armhf":
      return { architecture: "arm", variant: "v7" };
    case "armel":
      return { architecture: "arm", variant: "v6" };
    case "arm":
      if (variant === "" || variant === "7") return { architecture: "arm", variant: "v7" };
      if (variant === "5" || variant === "6" || variant === "8") return { architecture: "arm", variant: `v${variant}` };
      return { architecture: "arm", variant };
    default:
      return { architecture: arch, variant };
  }
}

function normalizeOs(os: string): string {
  if (os === "") return hostOs();
  const lower = os.toLowerCase();
  return lower === "macos" ? "darwin" : lower;
}

export function normalize(p: Platform): Platform {
  const { architecture, variant } = normalizeArch(p.architecture, p.variant ?? "");
  const out: Platform = { architecture, os: normalizeOs(p.os) };
  if (variant) out.variant = variant;
  if (p["os.version"]) out["os.version"] = p["os.version"];
  if (p["os.features"]?.length) out["os.features"] = p["os.features"];
  return out;
}

/** `os/arch[/variant]`, or `unknown` when the OS is empty (containerd's `Format`). */
export function format(p: Platform): string {
  if (!p.os) return "unknown";
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== "").join("/");
}

function hostOs(): string {
  switch (process.platform) {
    case "win32":
      return "windows";
    default:
      return process.platform;
  }
}

/** The platform of this host (containerd's `DefaultSpec`, from Node's names). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  const architecture = arch[process.arch] ?? process.arch;
  const variant = architecture === "arm" ? `v${(process.config.variables as { arm_version?: string }).arm_version ?? "7"}` : undefined;
  return normalize({ os: hostOs(), architecture, ...(variant ? { variant } : {}) });
}

const knownOs = new Set(["aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos"]);
const knownArch = new Set([
  "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64", "mips", "mipsle", "mips64", "mips64le",
  "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
]);
const specifier = /^[A-Za-z0-9_-]+$/;

/**
 * containerd's `platforms.Parse`: `os`, `arch`, `os/arch` or
 * `os/arch/variant`, normalized; a lone known architecture gets the host OS.
 */
export function parse(specifierText: string): Platform {
  if (specifierText.includes("*")) throw invalidArgument(`${JSON.stringify(specifierText)}: wildcards not yet supported`);
  const parts = specifierText.split("/");
  for (const part of parts) {
    if (!specifier.test(part)) throw invalidArgument(`${JSON.stringify(part)} is an invalid component of ${JSON.stringify(specifierText)}: platform specifier component must match "^[A-Za-z0-9_-]+$"`);
  }
  switch (parts.length) {
    case 1: {
      const os = normalizeOs(parts[0]!);
      if (knownOs.has(os)) return normalize({ os, architecture: hostPlatform().architecture, variant: hostPlatform().variant });
      const { architecture, variant } = normalizeArch(parts[0]!, "");
      if (knownArch.has(architecture)) return normalize({ os: hostOs(), architecture, variant });
      throw invalidArgument(`${JSON.stringify(specifierText)}: unknown operating system or architecture`);
    }
    case 2:
      return normalize({ os: parts[0]!, architecture: parts[1]! });
    case 3:
      return normalize({ os: parts[0]!, architecture: parts[1]!, variant: parts[2]! });
    default:
      throw invalidArgument(`${JSON.stringify(specifierText)}: cannot parse platform specifier`);
  }
}

function same(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? "") === (b.variant ?? "");
}

/** `platformVector`: the platform and those it can also run, best first. */
function vector(p: Platform): Platform[] {
  const out = [p];
  switch (p.architecture) {
    case "amd64":
      out.push({ os: p.os, architecture: "386" });
      break;
    case "arm": {
      const version = Number((p.variant ?? "").replace(/^v/, ""));
      if (Number.isInteger(version) && version > 5) {
        for (let v = version - 1; v >= 5; v--) out.push({ os: p.os, architecture: "arm", variant: `v${v}` });
      }
      break;
    }
    case "arm64":
      out.push(...vector({ os: p.os, architecture: "arm", variant: p.variant || "v8" }));
      break;
  }
  return out;
}

/** A matcher over an ordered list of platforms (`platforms.Ordered`). */
export function ordered(...candidates: Platform[]): PlatformMatcher {
  const list = candidates.map(normalize);
  const rank = (p: Platform) => {
    const n = normalize(p);
    const i = list.findIndex((c) => same(c, n));
    return i < 0 ? list.length : i;
  };
  return {
    match: (p) => rank(p) < list.length,
    less: (a, b) => rank(a) < rank(b),
  };
}

/** `platforms.Only`: the platform and what it can run. */
export function only(p: Platform): PlatformMatcher {
  return ordered(...vector(normalize(p)));
}

/** `platforms.OnlyStrict`: exactly that platform. */
export function onlyStrict(p: Platform): PlatformMatcher {
  return ordered(normalize(p));
}

/** Every platform (`platforms.All`). */
export const allPlatforms: PlatformMatcher = { match: () => true, less: () => false };

/** `platforms.Default()`: the host's platform and what it can run. */
export function defaultPlatforms(): PlatformMatcher {
  return only(hostPlatform());
}
