/**
 * The client side of the course: a client library for Redis-compatible servers, `redis-cli`'s
 * reply formats, and the command-line client (prompt, one-shot and piped modes) that every lab's
 * `client.ts` runs.
 *
 * @module
 */

// What a program using the client needs from the protocol layer: the reply types, to tell a
// status from a bulk string or an error, and the byte-string conversions.
export {
  bytesToByteString,
  byteStringToBytes,
  byteStringToUtf8,
  utf8ToByteString,
} from "../resp/bytes.ts";
export { ErrorReply, NULL_ARRAY, NullArray, type Reply, SimpleString } from "../resp/reply.ts";
export * from "./cli.ts";
export * from "./client.ts";
export * from "./format.ts";
export * from "./history.ts";
export * from "./json.ts";
export * from "./output.ts";
export * from "./repl.ts";
export * from "./runner.ts";
