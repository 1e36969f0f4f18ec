/**
 * A `dump.rdb` written by `redis-server` 7.0.15, kept as base64 so that the RDB tests run without
 * Redis installed. Made with:
 *
 * ```sh
 * redis-server --port 16412 --dir /tmp/rs --save '' --appendonly no &
 * redis-cli -p 16412 set long value:00000000000000000000000000
 * redis-cli -p 16412 set lorem "Lorem ipsum dolor sit amet, Lorem ipsum dolor sit amet, consectetur"
 * redis-cli -p 16412 set n 42
 * redis-cli -p 16412 set neg -70000
 * redis-cli -p 16412 set ttl hello px 3600000
 * redis-cli -p 16412 save
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** The file's bytes. */
export const REDIS_DUMP: Uint8Array = new Uint8Array(
  Buffer.from(
    "UkVESVMwMDEw+glyZWRpcy12ZXIGNy4wLjE1+gpyZWRpcy1iaXRzwED6BWN0aW1lwnomEGv6CHVzZWQtbWVtwmhWDgD6" +
      "CGFvZi1iYXNlwAD+APsFAQAEbG9uZ8MOIAZ2YWx1ZTow4A4AATAwAAFuwCr8MTtNN6IBAAAAA3R0bAVoZWxsbwAF" +
      "bG9yZW3DLUBDHExvcmVtIGlwc3VtIGRvbG9yIHNpdCBhbWV0LCBM4BIbCmNvbnNlY3RldHVyAANuZWfCkO7+//+b" +
      "x0GkduALJg==",
    "base64",
  ),
);

/** The keys in {@link REDIS_DUMP}, as Redis returns them. */
export const REDIS_DUMP_KEYS: Readonly<Record<string, string>> = {
  long: "value:00000000000000000000000000",
  lorem: "Lorem ipsum dolor sit amet, Lorem ipsum dolor sit amet, consectetur",
  n: "42",
  neg: "-70000",
  ttl: "hello",
};

/** When `ttl` in {@link REDIS_DUMP} expires, in milliseconds since the epoch. */
export const REDIS_DUMP_TTL_AT = 1796224138033;
