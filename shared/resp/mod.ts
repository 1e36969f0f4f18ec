/**
 * RESP2, the Redis serialization protocol: byte strings, reply values, the client's reply decoder,
 * the encoder both sides share, and the limits every request decoder enforces. The request decoders
 * themselves are lessons: lab 1's plain one (`labs/01-single-client/decoder.ts`) and lab 2's
 * measured one (`labs/02-threaded/request_decoder.ts`).
 *
 * @module
 */

export * from "./bytes.ts";
export * from "./encoder.ts";
export * from "./errors.ts";
export * from "./limits.ts";
export * from "./reply.ts";
export * from "./reply_decoder.ts";
export * from "./split_args.ts";
