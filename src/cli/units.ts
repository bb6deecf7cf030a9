/**
 * Sizes and ages as `ctr` prints them, with docker's go-units:
 * `units.HumanSize` (decimal units, 4 significant digits: `4.096kB`) and
 * `units.HumanDuration` (`Less than a second`, `3 seconds`, `About a minute`).
 */
const decimalUnits = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/** go-units `HumanSize`: `HumanSizeWithPrecision(size, 4)`, i.e. `%.4g` of the size in powers of 1000. */
export function humanSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < decimalUnits.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goG4(size)}${decimalUnits[i]}`;
}

/** Go's `%.4g` for the values humanSize formats (0 ≤ v < 1000): four significant digits, no trailing zeros. */
function goG4(v: number): string {
  if (v === 0) return "0";
  const s = v.toPrecision(4);
  return s.includes("e") ? s : s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** go-units `HumanDuration`. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}

const binaryUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/**
 * containerd's `progress.Bytes`, the SIZE of `ctr images ls` and `check`:
 * go-units `CustomSize("%02.1f %s", size, 1024, …)` — `1.8 KiB`, `585.0 B`.
 */
export function progressBytes(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1024 && i < binaryUnits.length - 1) {
    size /= 1024;
    i++;
  }
  return `${size.toFixed(1).padStart(2, "0")} ${binaryUnits[i]}`;
}
