/**
 * RESP2, the Redis serialization protocol: byte strings, reply values, the server's request decoder,
 * the client's reply decoder, and the encoder both sides share.
 *
 * @module
 */

export * from "./bytes.ts";
export * from "./encoder.ts";
export * from "./errors.ts";
export * from "./reply.ts";
export * from "./reply_decoder.ts";
export * from "./request_decoder.ts";
export * from "./split_args.ts";
