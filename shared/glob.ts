/**
 * Redis's glob patterns, as `KEYS` and `CONFIG GET` use them.
 *
 * - `*` matches any run of bytes, `?` any one byte;
 * - `[abc]` one of a set, `[^abc]` none of it, `[a-z]` a range;
 * - `\x` matches `x` literally.
 *
 * This is a port of Redis's `stringmatchlen` rule for rule, including its corner cases: an unclosed
 * `[` runs to the end of the pattern; a range may be written backwards (`[z-a]`) and compares bytes
 * as signed C `char`s; and, because the loop only runs while both sides have bytes left, `*` does
 * not match the empty key (`KEYS *` still lists it: Redis skips matching for that exact pattern).
 *
 * @module
 */

/** Patterns like `*a*a*a*...` nest one call per `*`; Redis gives up past this depth too. */
const MAX_NESTING = 1000;

/**
 * Tells whether a byte string matches a glob pattern.
 *
 * @param pattern The pattern, a byte string.
 * @param subject The string to test, a byte string.
 * @param options `nocase` compares ASCII letters without regard to case, as `CONFIG GET` does.
 * @returns `true` on a match.
 * @example
 * ```ts
 * globMatch("user:*", "user:42"); // true
 * globMatch("h[ae]llo", "hillo"); // false
 * ```
 */
export function globMatch(
  pattern: string,
  subject: string,
  options: { nocase?: boolean } = {},
): boolean {
  const state = { nocase: options.nocase ?? false, skipLongerMatches: false };
  return match(pattern, 0, subject, 0, state, 0);
}

interface MatchState {
  nocase: boolean;
  /**
   * Set once the rest of a pattern after some `*` has failed at every position: then no earlier
   * `*` can help either, and the search stops. This keeps `*a*a*a*b` linear instead of exponential.
   */
  skipLongerMatches: boolean;
}

/** A byte as C's signed `char` sees it: 0x80-0xff become -128 to -1. */
function signedChar(c: number): number {
  return (c << 24) >> 24;
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

function match(
  pattern: string,
  p: number,
  s: string,
  i: number,
  state: MatchState,
  nesting: number,
): boolean {
  if (nesting > MAX_NESTING) return false;
  const same = (a: number, b: number) => a === b || (state.nocase && lower(a) === lower(b));
  const pEnd = pattern.length;
  const sEnd = s.length;

  while (p < pEnd && i < sEnd) {
    const pc = pattern.charCodeAt(p);
    if (pc === 0x2a) { // *
      while (p + 1 < pEnd && pattern.charCodeAt(p + 1) === 0x2a) p++;
      if (p + 1 === pEnd) return true;
      for (; i < sEnd; i++) {
        if (match(pattern, p + 1, s, i, state, nesting + 1)) return true;
        if (state.skipLongerMatches) return false;
      }
      state.skipLongerMatches = true;
      return false;
    } else if (pc === 0x3f) { // ?
      i++;
    } else if (pc === 0x5b) { // [
      p++;
      const negate = pattern.charCodeAt(p) === 0x5e;
      if (negate) p++;
      const c = s.charCodeAt(i);
      let matched = false;
      for (;;) {
        const cc = pattern.charCodeAt(p);
        if (cc === 0x5c && pEnd - p >= 2) {
          p++;
          if (pattern.charCodeAt(p) === c) matched = true;
        } else if (cc === 0x5d) {
          break;
        } else if (p >= pEnd) {
          p--; // an unclosed class: step back so the p++ below lands on the end
          break;
        } else if (pEnd - p >= 3 && pattern.charCodeAt(p + 1) === 0x2d) {
          // Redis compares range ends as C `char`s, which are signed on x86-64 and most servers:
          // bytes 0x80-0xff sort below 0x00, so `[a-\xff]` is the range 0xff..'a', not 'a'..0xff.
          let lo = signedChar(cc);
          let hi = signedChar(pattern.charCodeAt(p + 2));
          if (lo > hi) [lo, hi] = [hi, lo];
          const x = state.nocase ? lower(signedChar(c)) : signedChar(c);
          if (state.nocase) [lo, hi] = [lower(lo), lower(hi)];
          if (x >= lo && x <= hi) matched = true;
          p += 2;
        } else if (same(cc, c)) {
          matched = true;
        }
        p++;
      }
      if (negate) matched = !matched;
      if (!matched) return false;
      i++;
    } else {
      // A backslash makes the next pattern byte literal; a trailing one matches itself.
      if (pc === 0x5c && pEnd - p >= 2) p++;
      if (!same(pattern.charCodeAt(p), s.charCodeAt(i))) return false;
      i++;
    }
    p++;
    if (i === sEnd) {
      while (p < pEnd && pattern.charCodeAt(p) === 0x2a) p++;
      break;
    }
  }
  return p === pEnd && i === sEnd;
}
