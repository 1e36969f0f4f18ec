/**
 * Hex dumps for `--trace`, in the layout of `hexdump -C`: offset, sixteen bytes in hex (a gap
 * after the eighth), then the same bytes as ASCII with anything unprintable shown as `.`.
 *
 * ```
 * 00000000  2a 31 0d 0a 24 34 0d 0a  50 49 4e 47 0d 0a        |*1..$4..PING..|
 * ```
 *
 * Plaintext RESP reads well in the right-hand column; a record's ciphertext shows up there as
 * noise, which is the point of lab 3.
 *
 * @module
 */

/** Options for {@link hexDump}. */
export interface HexDumpOptions {
  /** Show at most this many bytes, then one line saying how many were left out. Default: all. */
  maxBytes?: number;
  /** Put before every line. Default: two spaces. */
  indent?: string;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Formats bytes as `hexdump -C` would.
 *
 * @param bytes What to show.
 * @param options How much, and the indent.
 * @returns One string per line of sixteen bytes (no trailing line with the total length).
 * @example
 * ```ts
 * hexDump(new TextEncoder().encode("PING\r\n"), { indent: "" });
 * // ["00000000  50 49 4e 47 0d 0a                                 |PING..|"]
 * ```
 */
export function hexDump(bytes: Uint8Array, options: HexDumpOptions = {}): string[] {
  const indent = options.indent ?? "  ";
  const shown = Math.min(bytes.length, options.maxBytes ?? bytes.length);
  const lines: string[] = [];
  for (let offset = 0; offset < shown; offset += 16) {
    const end = Math.min(offset + 16, shown);
    let hex = "";
    let ascii = "";
    for (let i = offset; i < offset + 16; i++) {
      // hexdump -C puts an extra space between the two groups of eight.
      if (i === offset + 8) hex += " ";
      if (i < end) {
        const b = bytes[i];
        hex += HEX[b] + " ";
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
      } else {
        hex += "   ";
      }
    }
    lines.push(`${indent}${offset.toString(16).padStart(8, "0")}  ${hex} |${ascii}|`);
  }
  if (shown < bytes.length) {
    lines.push(`${indent}... ${bytes.length - shown} more bytes not shown`);
  }
  return lines;
}
