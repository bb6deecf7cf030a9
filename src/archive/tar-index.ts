import { open, type FileHandle } from "node:fs/promises";
import { posix } from "node:path";
import { invalidArgument } from "../errors/errdefs.js";

/**
 * The first pass of an import: reads only the headers of a tar file (POSIX
 * ustar, GNU long names, PAX `path`/`linkpath`/`size` records), seeking over
 * the data, and records where each entry's bytes are. The second pass reads
 * exactly the entries it needs, at their offsets, in any order — so a large
 * archive is never held in memory and a blob can be resumed mid-way.
 *
 * Names are cleaned as Go's `path.Clean` does (`./blobs//x` → `blobs/x`). A
 * name that is absolute or climbs out of the archive (`..`) is refused: no
 * legitimate image archive has one, and a tool that later extracts what it
 * imported must never be handed one.
 */

export const EntryType = {
  File: "file",
  Directory: "directory",
  Symlink: "symlink",
  Hardlink: "hardlink",
  Other: "other",
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface TarEntry {
  /** The cleaned name (no leading `./`, no trailing `/`). */
  name: string;
  type: EntryType;
  /** Where the entry's data starts in the file. */
  offset: number;
  size: number;
  /** Symlink and hardlink targets, as written. */
  linkname: string;
}

export interface TarIndex {
  path: string;
  /** Entries by cleaned name; a later entry of the same name replaces an earlier one (tar semantics). */
  entries: Map<string, TarEntry>;
  /** The file's size. */
  size: number;
}

const block = 512;

function field(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString("utf8", start, end >= 0 && end < start + length ? end : start + length);
}

/** Octal, or GNU base-256 when the high bit of the first byte is set. */
function numeric(buf: Buffer, start: number, length: number, what: string, name: string): number {
  if (buf[start]! & 0x80) {
    let value = 0;
    for (let i = 0; i < length; i++) value = value * 256 + (i === 0 ? buf[start]! & 0x7f : buf[start + i]!);
    if (!Number.isSafeInteger(value)) throw invalidArgument(`invalid tar header for ${JSON.stringify(name)}: ${what} too large`);
    return value;
  }
  const text = field(buf, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw invalidArgument(`invalid tar header for ${JSON.stringify(name)}: ${what} ${JSON.stringify(text)} is not octal`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = field(header, 148, 8).trim();
  if (!/^[0-7]+$/.test(stored)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < block; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const want = parseInt(stored, 8);
  return want === unsigned || want === signed;
}

/** PAX extended header records: `<len> <key>=<value>\n`. */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(data.toString("ascii", at, space));
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length) throw invalidArgument("invalid tar archive: malformed PAX record");
    const record = data.toString("utf8", space + 1, at + length - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
}

/**
 * Go's `path.Clean` of an entry name, refusing names that are absolute or
 * leave the archive root.
 */
export function cleanEntryName(raw: string): string {
  if (raw.includes("\0")) throw invalidArgument(`invalid archive entry name ${JSON.stringify(raw)}: contains NUL`);
  if (raw.startsWith("/")) throw invalidArgument(`invalid archive entry name ${JSON.stringify(raw)}: absolute path`);
  if (raw.split("/").includes("..")) throw invalidArgument(`invalid archive entry name ${JSON.stringify(raw)}: path escapes the archive`);
  const cleaned = posix.normalize(raw).replace(/\/+$/, "");
  return cleaned === "" ? "." : cleaned;
}

async function readAt(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Headers only: every entry of the tar file at `path`, with its data offset. */
export async function indexTar(path: string): Promise<TarIndex> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const entries = new Map<string, TarEntry>();
    let position = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax = new Map<string, string>();
    let headers = 0;
    for (;;) {
      const header = await readAt(fh, block, position);
      if (header.length === 0) break; // EOF without end-of-archive blocks: tolerated, as Go's reader does
      if (header.length < block) throw invalidArgument(`invalid tar archive: truncated header at offset ${position}`);
      if (header.every((b) => b === 0)) break; // end of archive
      if (!checksumOk(header)) {
        if (headers === 0) {
          const gzip = header[0] === 0x1f && header[1] === 0x8b;
          throw invalidArgument(gzip ? "the archive is gzip-compressed: decompress it first (image archives are plain tar)" : "not a tar archive: invalid header");
        }
        throw invalidArgument(`invalid tar archive: bad header checksum at offset ${position}`);
      }
      headers++;
      const typeflag = String.fromCharCode(header[156]!);
      const magic = header.toString("ascii", 257, 263);
      let name = field(header, 0, 100);
      if (magic === "ustar\0" || magic === "ustar ") {
        const prefix = magic === "ustar\0" ? field(header, 345, 155) : "";
        if (prefix) name = `${prefix}/${name}`;
      }
      let linkname = field(header, 157, 100);
      let entrySize = numeric(header, 124, 12, "size", name);
      const dataOffset = position + block;
      const next = dataOffset + Math.ceil(entrySize / block) * block;

      if (typeflag === "L" || typeflag === "K" || typeflag === "x" || typeflag === "g") {
        if (entrySize > 1024 * 1024) throw invalidArgument(`invalid tar archive: extended header of ${entrySize} bytes`);
        const data = await readAt(fh, entrySize, dataOffset);
        if (data.length < entrySize) throw invalidArgument(`invalid tar archive: truncated extended header at offset ${position}`);
        if (typeflag === "L") longName = field(data, 0, data.length);
        else if (typeflag === "K") longLink = field(data, 0, data.length);
        else if (typeflag === "x") pax = paxRecords(data);
        position = next;
        continue;
      }
      if (longName !== undefined) name = longName;
      if (longLink !== undefined) linkname = longLink;
      if (pax.has("path")) name = pax.get("path")!;
      if (pax.has("linkpath")) linkname = pax.get("linkpath")!;
      if (pax.has("size")) {
        entrySize = Number(pax.get("size"));
        if (!Number.isSafeInteger(entrySize) || entrySize < 0) throw invalidArgument(`invalid tar header for ${JSON.stringify(name)}: PAX size`);
      }
      longName = longLink = undefined;
      pax = new Map();

      const type: EntryType =
        typeflag === "0" || typeflag === "\0" || typeflag === "7"
          ? EntryType.File
          : typeflag === "5"
            ? EntryType.Directory
            : typeflag === "2"
              ? EntryType.Symlink
              : typeflag === "1"
                ? EntryType.Hardlink
                : EntryType.Other;
      // Go's isHeaderOnlyType: links, devices, directories and FIFOs have no data whatever their size field says.
      const hasData = !"123456".includes(typeflag);
      const end = dataOffset + (hasData ? entrySize : 0);
      if (end > size) throw invalidArgument(`invalid tar archive: entry ${JSON.stringify(name)} is truncated (${size - dataOffset} of ${entrySize} bytes)`);
      const cleaned = cleanEntryName(name);
      if (type !== EntryType.Directory) entries.set(cleaned, { name: cleaned, type, offset: dataOffset, size: hasData ? entrySize : 0, linkname });
      position = hasData ? dataOffset + Math.ceil(entrySize / block) * block : dataOffset;
    }
    if (headers === 0) throw invalidArgument("not a tar archive: no entries");
    return { path, entries, size };
  } finally {
    await fh.close();
  }
}

/** An entry's bytes (small entries only: index.json, manifests, configs). */
export async function readEntry(path: string, entry: TarEntry, limit: number): Promise<Buffer> {
  if (entry.size > limit) throw invalidArgument(`archive entry ${JSON.stringify(entry.name)} is ${entry.size} bytes, more than the ${limit} allowed for JSON`);
  const fh = await open(path, "r");
  try {
    const data = await readAt(fh, entry.size, entry.offset);
    if (data.length < entry.size) throw invalidArgument(`invalid tar archive: entry ${JSON.stringify(entry.name)} is truncated`);
    return data;
  } finally {
    await fh.close();
  }
}
