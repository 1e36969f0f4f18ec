/**
 * Splits a line into arguments the way Redis does for inline commands and `redis-cli` does for
 * what you type: `SET "a key" 'it''s'` is three arguments.
 *
 * This follows Redis's `sdssplitargs` rule for rule, because the same line must mean the same
 * thing to our server, to a real Redis, and to our REPL:
 *
 * - blanks (space, tab, CR, LF, VT, FF) separate arguments;
 * - `"double quotes"` understand `\n \r \t \b \a`, `\xHH` and `\` before any other character;
 * - `'single quotes'` understand only `\'`;
 * - a closing quote must be followed by a blank or the end of the line (`"a"b` is an error);
 * - a quote may open in the middle of a word: `ab"c d"` is the one argument `abc d`;
 * - a NUL byte ends the line, as it ends a C string.
 *
 * @module
 */

/** Is the code one of C's `isspace` characters? */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", a: "\x07" };

/**
 * Splits a byte string into arguments, or returns `null` for unbalanced quotes.
 *
 * @param line One line, without its line ending. A byte string: one character per byte.
 * @returns The arguments as byte strings (an empty array for a blank line), or `null` when a quote
 *   is not closed or a closing quote is followed by something other than a blank.
 * @example
 * ```ts
 * splitArgs(`SET "a b" 'c'`); // ["SET", "a b", "c"]
 * splitArgs(`GET "oops`);     // null
 * ```
 */
export function splitArgs(line: string): string[] | null {
  // Past the end of the line reads as NUL, which is how the C original sees its terminator.
  const at = (i: number): number => (i < line.length ? line.charCodeAt(i) : 0);
  const args: string[] = [];
  let p = 0;
  for (;;) {
    while (at(p) !== 0 && isSpace(at(p))) p++;
    if (at(p) === 0) return args;

    let current = "";
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (
          c === 0x5c && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0
        ) {
          current += String.fromCharCode(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 0x5c && at(p + 1) !== 0) {
          p++;
          const next = String.fromCharCode(at(p));
          current += ESCAPES[next] ?? next;
        } else if (c === 0x22) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          current += String.fromCharCode(c);
        }
      } else if (inSingle) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++;
          current += "'";
        } else if (c === 0x27) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          current += String.fromCharCode(c);
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0) {
        done = true;
      } else if (c === 0x22) {
        inDouble = true;
      } else if (c === 0x27) {
        inSingle = true;
      } else {
        current += String.fromCharCode(c);
      }
      if (at(p) !== 0) p++;
    }
    args.push(current);
  }
}
