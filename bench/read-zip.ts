import { readFileSync } from "node:fs";
import { inflateRawSync } from "node:zlib";

/** A file inside a deployment .zip, decompressed. */
export interface ZipEntry {
  name: string;
  compressedBytes: number;
  data: Buffer;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
/** The end record sits in the last 22 bytes plus a comment of at most 64 KiB. */
const MAX_END_SEARCH = 22 + 0xffff;

/**
 * Just enough of the zip format to read what the Serverless packager writes (stored or deflated entries,
 * no zip64), so the bench measures the artifact that is deployed rather than a rebuild of it.
 */
export function readZip(path: string): ZipEntry[] {
  const zip = readFileSync(path);
  let end = -1;
  for (let offset = zip.length - 22; offset >= Math.max(0, zip.length - MAX_END_SEARCH); offset--) {
    if (zip.readUInt32LE(offset) === END_OF_CENTRAL_DIRECTORY) {
      end = offset;
      break;
    }
  }
  if (end < 0) throw new Error(`${path}: not a zip file`);
  const count = zip.readUInt16LE(end + 10);
  let cursor = zip.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(cursor) !== CENTRAL_DIRECTORY_ENTRY)
      throw new Error(`${path}: bad central directory`);
    const method = zip.readUInt16LE(cursor + 10);
    const compressedBytes = zip.readUInt32LE(cursor + 20);
    const nameLength = zip.readUInt16LE(cursor + 28);
    const extraLength = zip.readUInt16LE(cursor + 30);
    const commentLength = zip.readUInt16LE(cursor + 32);
    const localOffset = zip.readUInt32LE(cursor + 42);
    const name = zip.toString("utf8", cursor + 46, cursor + 46 + nameLength);
    if (zip.readUInt32LE(localOffset) !== LOCAL_FILE_HEADER) throw new Error(`${path}: bad entry ${name}`);
    const dataStart =
      localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedBytes);
    const data = method === 0 ? Buffer.from(raw) : inflateRawSync(raw);
    if (!name.endsWith("/")) entries.push({ name, compressedBytes, data });
    cursor += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
