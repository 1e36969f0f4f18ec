/**
 * LZF, the small compressor Redis uses for long strings in an RDB file (`lzf_c.c`, `lzf_d.c`).
 *
 * LZF is a member of the LZ77 family: the output is a list of instructions, each either "copy the
 * next N bytes literally" or "go back D bytes in what you have written so far and copy N bytes
 * from there". A value like `user:000000000000000000` has long runs that repeat what came just
 * before, and a back reference of three bytes replaces each of them. The format has three shapes
 * of instruction, told apart by the top three bits of the first byte:
 *
 * ```
 * 000LLLLL <L+1 bytes>         literal run of L+1 bytes (1..32)
 * LLLooooo oooooooo            back reference: copy L+2 bytes (L is 1..6) from D = o+1 back
 * 111ooooo LLLLLLLL oooooooo   back reference: copy L+9 bytes, D = o+1 back (1..8192)
 * ```
 *
 * Decompressing is a loop over those instructions. Compressing needs a way to find an earlier
 * place where the next three bytes occurred: a hash table from three bytes to the last position
 * where they were seen. A candidate from the table is checked byte by byte before it is used, so
 * a wrong candidate costs only a literal byte, never a wrong output.
 *
 * The functions take a buffer with offsets, as C's LZF takes pointers, rather than subarrays: a
 * subarray is an object allocated per call, and a snapshot makes one call per long value.
 *
 * This file follows Redis's build of LZF (hash table of 65536 slots, the "very fast" mode that
 * re-hashes only two positions after a match), so that for the same input it makes the same
 * bytes Redis makes, which the tests check against a file written by `redis-server`.
 *
 * @module
 */

const HASH_BITS = 16;
const HASH_SIZE = 1 << HASH_BITS;
/** Longest literal run: five bits of length. */
const MAX_LITERAL = 1 << 5;
/** Farthest back a reference reaches: thirteen bits of distance. */
const MAX_OFFSET = 1 << 13;
/** Longest back reference: eight bits of extra length plus the seven of the short form, plus two. */
const MAX_REFERENCE = (1 << 8) + (1 << 3);
/** Past this, positions in the hash table would stop fitting its 32-bit slots. */
const MAX_EPOCH = 2 ** 31 - 1;

/**
 * Compresses with LZF, keeping its hash table from one call to the next.
 *
 * C's LZF puts its table on the stack and never clears it: a stale slot is harmless because every
 * candidate is checked against the input. Clearing the whole table for every short value would
 * cost far more than compressing it, so this class keeps one table and stamps each slot with a
 * position that grows across calls ("epoch + offset"). A slot written by an earlier call holds a
 * number below the current epoch and is simply not a candidate.
 *
 * @example
 * ```ts
 * const lzf = new LzfCompressor();
 * const input = new TextEncoder().encode("a".repeat(100));
 * const out = new Uint8Array(input.length - 4);
 * const n = lzf.compress(input, 0, input.length, out, 0, out.length); // 9
 * ```
 */
export class LzfCompressor {
  #table = new Int32Array(HASH_SIZE);
  #epoch = 1;

  /**
   * Compresses `input[inStart, inStart + inLength)` into `out[outStart, outStart + outLength)`.
   *
   * @param input The bytes to compress.
   * @param inStart Where they start.
   * @param inLength How many there are.
   * @param out Where the compressed bytes go.
   * @param outStart Where in `out` to start.
   * @param outLength Room in `out`: the compressed form must fit in it.
   * @returns The compressed length, or 0 if it does not fit (then `out` holds garbage). Redis
   *   asks for at most four bytes fewer than the input and stores the string as it is otherwise.
   */
  compress(
    input: Uint8Array,
    inStart: number,
    inLength: number,
    out: Uint8Array,
    outStart: number,
    outLength: number,
  ): number {
    if (inLength === 0 || outLength === 0) return 0;
    if (this.#epoch + inLength + 1 >= MAX_EPOCH) {
      this.#table.fill(0);
      this.#epoch = 1;
    }
    const table = this.#table;
    // A slot holds `epoch + (position - inStart)`; `base` turns a position into that stamp.
    const base = this.#epoch - inStart;
    this.#epoch += inLength + 1;

    const inEnd = inStart + inLength;
    const outEnd = outStart + outLength;
    let ip = inStart;
    let op = outStart;
    // `lit` counts the bytes of the literal run being built; its length byte is at op - lit - 1,
    // reserved before the run's first byte and filled in when the run ends.
    let lit = 0;
    op++;

    let hval = (input[ip] << 8) | input[ip + 1];
    while (ip < inEnd - 2) {
      hval = (hval << 8) | input[ip + 2];
      const slot = ((hval >>> 8) - Math.imul(hval, 5)) & (HASH_SIZE - 1);
      const ref = table[slot] - base;
      table[slot] = ip + base;
      const off = ip - ref - 1;
      // `ref > inStart`: like C's LZF, never a reference to the very first byte.
      if (
        ref > inStart && off < MAX_OFFSET && input[ref + 2] === input[ip + 2] &&
        input[ref] === input[ip] && input[ref + 1] === input[ip + 1]
      ) {
        let len = 2;
        const maxlen = Math.min(inEnd - ip - len, MAX_REFERENCE);
        if (op + 3 + 1 >= outEnd && op - (lit === 0 ? 1 : 0) + 3 + 1 >= outEnd) return 0;
        out[op - lit - 1] = lit - 1; // end the literal run
        if (lit === 0) op--; // an empty run takes no byte

        // Extend the match. C's LZF first tries sixteen more bytes without looking at `maxlen`
        // (it is known to be larger); doing the same keeps the output identical to Redis's.
        let mismatch = false;
        if (maxlen > 16) {
          for (let k = 0; k < 16; k++) {
            len++;
            if (input[ref + len] !== input[ip + len]) {
              mismatch = true;
              break;
            }
          }
        }
        if (!mismatch) {
          do len++; while (len < maxlen && input[ref + len] === input[ip + len]);
        }

        len -= 2; // the instruction stores the length minus two
        ip++;
        if (len < 7) {
          out[op++] = (off >>> 8) + (len << 5);
        } else {
          out[op++] = (off >>> 8) + (7 << 5);
          out[op++] = len - 7;
        }
        out[op++] = off & 0xff;
        lit = 0;
        op++; // reserve the next run's length byte

        ip += len + 1;
        if (ip >= inEnd - 2) break;
        // Hash the last two positions of the match so that the next repeat can find them.
        ip -= 2;
        hval = (input[ip] << 8) | input[ip + 1];
        hval = (hval << 8) | input[ip + 2];
        table[((hval >>> 8) - Math.imul(hval, 5)) & (HASH_SIZE - 1)] = ip + base;
        ip++;
        hval = (hval << 8) | input[ip + 2];
        table[((hval >>> 8) - Math.imul(hval, 5)) & (HASH_SIZE - 1)] = ip + base;
        ip++;
      } else {
        if (op >= outEnd) return 0;
        lit++;
        out[op++] = input[ip++];
        if (lit === MAX_LITERAL) {
          out[op - lit - 1] = lit - 1;
          lit = 0;
          op++;
        }
      }
    }

    // The last two bytes cannot start a match: copy them as literals.
    if (op + 3 > outEnd) return 0;
    while (ip < inEnd) {
      lit++;
      out[op++] = input[ip++];
      if (lit === MAX_LITERAL) {
        out[op - lit - 1] = lit - 1;
        lit = 0;
        op++;
      }
    }
    out[op - lit - 1] = lit - 1;
    if (lit === 0) op--;
    return op - outStart;
  }
}

/**
 * Decompresses LZF into a buffer of the size the RDB file announced.
 *
 * Every instruction is checked before it is followed, because the input comes from a file that
 * may be damaged: a literal run must not read past the input, a reference must not reach before
 * the start of the output, and nothing may write past the announced length.
 *
 * @param input The compressed bytes.
 * @param inStart Where they start.
 * @param inLength How many there are.
 * @param out Where the original bytes go.
 * @param outStart Where in `out` to start.
 * @param outLength How many original bytes there must be.
 * @returns How many bytes were written: `outLength` for a sound input.
 * @throws {RangeError} If the input is not valid LZF or decodes to more than `outLength` bytes.
 *
 * @example
 * ```ts
 * const out = new Uint8Array(3);
 * lzfDecompress(new Uint8Array([0x00, 0x61, 0x20, 0x00]), 0, 4, out, 0, 3); // "aaa"
 * ```
 */
export function lzfDecompress(
  input: Uint8Array,
  inStart: number,
  inLength: number,
  out: Uint8Array,
  outStart: number,
  outLength: number,
): number {
  const inEnd = inStart + inLength;
  const outEnd = outStart + outLength;
  let ip = inStart;
  let op = outStart;
  while (ip < inEnd) {
    const ctrl = input[ip++];
    if (ctrl < MAX_LITERAL) {
      const n = ctrl + 1;
      if (op + n > outEnd) throw new RangeError("LZF data decodes to more bytes than announced");
      if (ip + n > inEnd) throw new RangeError("LZF data ends inside a literal run");
      // A loop, not `out.set(input.subarray(...))`: a run is at most 32 bytes, and a subarray
      // is an object allocated per run, which costs more than copying them.
      for (let k = 0; k < n; k++) out[op++] = input[ip++];
    } else {
      let len = ctrl >>> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (ip >= inEnd) throw new RangeError("LZF data ends inside a back reference");
      if (len === 7) {
        len += input[ip++];
        if (ip >= inEnd) throw new RangeError("LZF data ends inside a back reference");
      }
      ref -= input[ip++];
      len += 2;
      if (op + len > outEnd) throw new RangeError("LZF data decodes to more bytes than announced");
      if (ref < outStart) throw new RangeError("LZF back reference points before the start");
      // Byte by byte, not `copyWithin`: a reference may overlap what it is writing (a distance of
      // one repeats the last byte `len` times), and that is how runs are encoded.
      for (let k = 0; k < len; k++) out[op++] = out[ref++];
    }
  }
  return op - outStart;
}

/**
 * Checks LZF data without decompressing it: walks the instructions, keeping only the length the
 * output would have. A loader that must refuse a damaged file before it loads a single key uses
 * this in its first pass, where building every value would cost twice.
 *
 * @param input The compressed bytes.
 * @param inStart Where they start.
 * @param inLength How many there are.
 * @param outLength How many original bytes there must be.
 * @throws {RangeError} Where {@link lzfDecompress} would, or if the output would be shorter.
 *
 * @example
 * ```ts
 * lzfCheck(new Uint8Array([0x00, 0x61, 0x20, 0x00]), 0, 4, 3); // fine: "aaa"
 * ```
 */
export function lzfCheck(
  input: Uint8Array,
  inStart: number,
  inLength: number,
  outLength: number,
): void {
  const inEnd = inStart + inLength;
  let ip = inStart;
  let op = 0;
  while (ip < inEnd) {
    const ctrl = input[ip++];
    if (ctrl < MAX_LITERAL) {
      const n = ctrl + 1;
      if (op + n > outLength) throw new RangeError("LZF data decodes to more bytes than announced");
      if (ip + n > inEnd) throw new RangeError("LZF data ends inside a literal run");
      ip += n;
      op += n;
    } else {
      let len = ctrl >>> 5;
      if (ip >= inEnd) throw new RangeError("LZF data ends inside a back reference");
      if (len === 7) {
        len += input[ip++];
        if (ip >= inEnd) throw new RangeError("LZF data ends inside a back reference");
      }
      const distance = ((ctrl & 0x1f) << 8) + input[ip++] + 1;
      len += 2;
      if (op + len > outLength) {
        throw new RangeError("LZF data decodes to more bytes than announced");
      }
      if (distance > op) throw new RangeError("LZF back reference points before the start");
      op += len;
    }
  }
  if (op !== outLength) {
    throw new RangeError(`LZF data decodes to ${op} bytes, not the ${outLength} announced`);
  }
}
