import { invalidArgument } from "../errors/errdefs.js";

/** containerd `labels.Validate`: key and value together may use at most 4096 bytes. */
export const labelMaxSize = 4096;

/**
 * Validates one label. The wording is containerd 1.7+'s (decided divergence 8:
 * it shows the length and 64 characters of the key, which 1.6's 10 do not).
 * `context` is the caller's prefix, e.g. `image.Labels`, `namespace.Labels`.
 */
export function validateLabel(context: string, key: string, value: string): void {
  const size = Buffer.byteLength(key) + Buffer.byteLength(value);
  if (size > labelMaxSize) {
    const shownKey = [...key].slice(0, 64).join("");
    throw invalidArgument(
      `${context}: label key and value length (${size} bytes) greater than maximum size (${labelMaxSize} bytes), key: ${shownKey}`,
    );
  }
}

export function validateLabels(context: string, labels: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(labels)) validateLabel(context, k, v);
}

/** Labels with an empty value are removed, as containerd's stores do on write. */
export function withoutEmptyLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) if (labels[k] !== "") out[k] = labels[k]!;
  return out;
}
