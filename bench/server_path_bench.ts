/**
 * Micro-benchmarks of the server's own work per batch, without sockets: `deno bench bench/`.
 *
 * `compare.ts` measures a whole server through the kernel, next to `redis-server`, on a machine
 * shared with the load generator; a change of a few percent drowns in that noise. These measure
 * the JavaScript between `read()` and `write()` alone — decode, look up, run, encode — on the
 * batches `redis-benchmark -P 16 -t set,get -r 10000 -d 32` sends, so that an optimisation of the
 * codec or the dispatch can be judged in isolation, then confirmed with `compare.ts`.
 *
 * On a busy machine compare the `min` column rather than the average: the fastest iteration is the
 * one nobody else interrupted.
 *
 * @module
 */

import { encodeCommand, encodeReply, RespWriter } from "../shared/resp/encoder.ts";
import { OK, type Reply } from "../shared/resp/reply.ts";
import { ReplyDecoder } from "../shared/resp/reply_decoder.ts";
import { RequestDecoder } from "../labs/02-threaded/request_decoder.ts";
import { runCommands } from "../labs/02-threaded/batch_loop.ts";
import { Decoder } from "../labs/01-single-client/decoder.ts";
import { ServerState } from "../shared/server/server_state.ts";
import { ClientState, type Session } from "../shared/server/session.ts";
import { lab2CommandTable } from "../labs/02-threaded/server.ts";
import { dispatch, watchesOf } from "../labs/02-threaded/transaction.ts";
import { Batches, parseMix } from "./workload.ts";
import { HashTable } from "../shared/hash_table.ts";
import { bytesToByteString, SHORT_BYTE_STRING, shortByteString } from "../shared/resp/bytes.ts";

const PIPELINE = 16;
const KEYSPACE = 10_000;
const VALUE_SIZE = 32;

/** A lab 2 server with no sockets, and one client's session on it. */
function lab2Session(): Session {
  const server = new ServerState({
    commands: lab2CommandTable(),
    log: () => {},
  });
  // What lab 2's transactions stage installs: a table of watches, which observes the keyspace
  // from the first WATCH on (this benchmark sends none).
  watchesOf(server.db);
  const client = new ClientState(server.nextClientId(), "127.0.0.1:1", "127.0.0.1:2", Date.now());
  server.clients.set(client.id, client);
  return { db: server.db, client, server };
}

/** The batches redis-benchmark would send for one test, pre-encoded. */
function batches(command: "set" | "get"): Batches {
  return new Batches({
    mix: parseMix(command),
    pipeline: PIPELINE,
    keyspace: KEYSPACE,
    valueSize: VALUE_SIZE,
  });
}

/** Runs one batch through decoder, dispatcher and encoder, as lab 2's connection loop does. */
function batchBench(command: "set" | "get"): (b: Deno.BenchContext) => Promise<void> {
  const session = lab2Session();
  // GET needs something to find: fill the keyspace first, as redis-benchmark's SET test does.
  for (let i = 0; i < KEYSPACE; i++) {
    session.db.set(`key:${String(i).padStart(12, "0")}`, "x".repeat(VALUE_SIZE));
  }
  const decoder = new RequestDecoder(session.server.limits);
  const out = new RespWriter();
  const stream = batches(command);
  const options = { execute: dispatch };
  let i = 0;
  return async (b) => {
    b.start();
    for (let n = 0; n < 100; n++) {
      decoder.push(stream.full(i++));
      // As lab 2's connection loop does: await only if a handler returned a promise.
      const end = runCommands(session, decoder, out, options);
      if (end instanceof Promise) await end;
      out.take();
    }
    b.end();
  };
}

Deno.bench({
  name: "lab 2: 100 batches of 16 SET (decode, run, encode)",
  group: "batch",
  baseline: true,
  fn: batchBench("set"),
});

Deno.bench({
  name: "lab 2: 100 batches of 16 GET (decode, run, encode)",
  group: "batch",
  fn: batchBench("get"),
});

{
  // The keyspace's hash table against a Map, on what a server does with keys: they arrive as bytes
  // and become new strings (as the decoder makes them), which are looked up, or, loading a
  // snapshot, inserted into an empty table. A Map searches V8's table of unique strings the first
  // time it meets each new string; the hash table hashes the characters itself (hash_table.ts).
  const keys = 10_000;
  const bytes = new TextEncoder().encode(
    Array.from({ length: keys }, (_, k) => `key:${String(k).padStart(12, "0")}`).join(""),
  );
  const fresh = (k: number) => shortByteString(bytes, k * 16, 16);
  const map = new Map<string, string>();
  const table = new HashTable<string>();
  for (let k = 0; k < keys; k++) {
    map.set(fresh(k), "v");
    table.set(fresh(k), "v");
  }
  let i = 0;
  const lookups = (find: (key: string) => string | undefined) => () => {
    for (let n = 0; n < 1_000; n++) {
      if (find(fresh(i)) === undefined) throw new Error("a key went missing");
      i = (i + 7_919) % keys;
    }
  };
  Deno.bench({
    name: "Map: get 1,000 new strings of existing keys",
    group: "keyspace lookup",
    baseline: true,
    fn: lookups((key) => map.get(key)),
  });
  Deno.bench({
    name: "HashTable: the same",
    group: "keyspace lookup",
    fn: lookups((key) => table.get(key)),
  });

  // Each round inserts keys no earlier round made (the round number is in their first bytes), so
  // the Map pays for V8's string table as a server's first load does.
  const loadBytes = bytes.slice();
  let round = 0;
  const load = (into: { set(key: string, value: string): unknown }) => {
    round++;
    for (let k = 0; k < keys; k++) {
      for (let b = 0; b < 4; b++) loadBytes[k * 16 + b] = 0x30 + ((round >> (b * 4)) & 15);
      into.set(shortByteString(loadBytes, k * 16, 16), "v");
    }
  };
  Deno.bench({
    name: "Map: insert 10,000 new keys into an empty one",
    group: "keyspace load",
    baseline: true,
    fn: () => load(new Map<string, string>()),
  });
  Deno.bench({
    name: "HashTable: the same",
    group: "keyspace load",
    fn: () => load(new HashTable<string>()),
  });
}

{
  // How a decoder makes a key (16 bytes) or a value (32 bytes) from the bytes read: one argument
  // per byte to String.fromCharCode (shortByteString), the same bytes spread from an array, or
  // Buffer's native latin1 copy (bytesToByteString), which wins only past SHORT_BYTE_STRING.
  const bytes = Uint8Array.from({ length: 4_096 }, (_, i) => 0x61 + (i % 26));
  const spread: number[][] = Array.from(
    { length: SHORT_BYTE_STRING + 1 },
    (_, n) => new Array<number>(n).fill(0),
  );
  const viaSpread = (start: number, length: number) => {
    const codes = spread[length];
    for (let i = 0; i < length; i++) codes[i] = bytes[start + i];
    return String.fromCharCode.apply(null, codes);
  };
  const made: string[] = new Array(1_000);
  for (const length of [16, 32, SHORT_BYTE_STRING]) {
    const make = (read: (start: number, length: number) => string) => () => {
      for (let n = 0; n < 1_000; n++) made[n] = read((n * 37) & 2_047, length);
    };
    Deno.bench({
      name: `1,000 strings of ${length} bytes: String.fromCharCode.apply()`,
      group: `byte string, ${length} bytes`,
      baseline: true,
      fn: make(viaSpread),
    });
    Deno.bench({
      name: `1,000 strings of ${length} bytes: shortByteString()`,
      group: `byte string, ${length} bytes`,
      fn: make((start, length) => shortByteString(bytes, start, length)),
    });
    Deno.bench({
      name: `1,000 strings of ${length} bytes: bytesToByteString()`,
      group: `byte string, ${length} bytes`,
      fn: make((start, length) => bytesToByteString(bytes, start, start + length)),
    });
  }
}

{
  const decoder = new RequestDecoder();
  const stream = batches("set");
  let i = 0;
  Deno.bench({
    name: "decode: 100 batches of 16 SET",
    group: "codec",
    baseline: true,
    fn: () => {
      for (let n = 0; n < 100; n++) {
        decoder.push(stream.full(i++));
        while (decoder.next() !== null) { /* decode only */ }
      }
    },
  });
}

{
  // The same batches through lab 1's plain decoder (check, then parse; no name cache, no
  // resuming), against lab 2's above and in a group of their own: what lab 2's decoder buys.
  const stream = batches("set");
  const lab1 = new Decoder();
  const lab2 = new RequestDecoder();
  let i = 0;
  let j = 0;
  Deno.bench({
    name: "lab 2's RequestDecoder: 100 batches of 16 SET",
    group: "lab 1 vs lab 2 decoder",
    baseline: true,
    fn: () => {
      for (let n = 0; n < 100; n++) {
        lab2.push(stream.full(i++));
        while (lab2.next() !== null) { /* decode only */ }
      }
    },
  });
  Deno.bench({
    name: "lab 1's Decoder: 100 batches of 16 SET",
    group: "lab 1 vs lab 2 decoder",
    fn: () => {
      for (let n = 0; n < 100; n++) {
        lab1.push(stream.full(j++));
        while (lab1.next() !== null) { /* decode only */ }
      }
    },
  });
}

{
  const out = new RespWriter();
  const value = "x".repeat(VALUE_SIZE);
  Deno.bench({
    name: "encode: 100 batches of 16 +OK",
    group: "codec",
    fn: () => {
      for (let n = 0; n < 100; n++) {
        for (let c = 0; c < PIPELINE; c++) out.write(OK);
        out.take();
      }
    },
  });
  Deno.bench({
    name: "encode: 100 batches of 16 32-byte bulk strings",
    group: "codec",
    fn: () => {
      for (let n = 0; n < 100; n++) {
        for (let c = 0; c < PIPELINE; c++) out.write(value);
        out.take();
      }
    },
  });
}

{
  // One big command arriving in many reads: an MSET of 20,000 keys, 16 KiB at a time. Lab 1's
  // decoder checks the frame from its first byte again after every read; lab 2's resumes where
  // the last read ended. The gap grows with the square of the command's size.
  const args: string[] = ["MSET"];
  for (let i = 0; i < 20_000; i++) args.push(`key:${String(i).padStart(12, "0")}`, "x".repeat(8));
  const frame = encodeCommand(args);
  const reads: Uint8Array[] = [];
  for (let i = 0; i < frame.length; i += 16_384) reads.push(frame.subarray(i, i + 16_384));
  const decodeWith = (decoder: { push(b: Uint8Array): void; next(): string[] | null }) => {
    let command: string[] | null = null;
    for (const read of reads) {
      decoder.push(read);
      command = decoder.next();
    }
    if (command === null) throw new Error("the MSET did not decode");
  };
  Deno.bench({
    name: "lab 2's RequestDecoder: an MSET of 20,000 keys in 16 KiB reads",
    group: "big command",
    baseline: true,
    fn: () => decodeWith(new RequestDecoder()),
  });
  Deno.bench({
    name: "lab 1's Decoder: an MSET of 20,000 keys in 16 KiB reads",
    group: "big command",
    n: 20,
    fn: () => decodeWith(new Decoder()),
  });
}

{
  // Lab 4's log: what a SET costs it on top of decoding, encoded from its arguments as
  // persistence/aof.ts does. The log's share is the difference from "decode only".
  const stream = new Batches({
    mix: parseMix("set"),
    pipeline: PIPELINE,
    keyspace: 100_000,
    valueSize: 3,
  });
  const reads = Array.from({ length: 50 }, (_, i) => stream.full(i));
  const decoder = new RequestDecoder();
  const log = new RespWriter();
  const decodeAll = (each: (command: string[]) => void) => {
    for (const read of reads) {
      decoder.push(read);
      for (let command = decoder.next(); command !== null; command = decoder.next()) each(command);
    }
    log.take();
  };
  Deno.bench({
    name: "decode only: 50 batches of 16 SET",
    group: "log",
    baseline: true,
    fn: () => decodeAll(() => {}),
  });
  Deno.bench({
    name: "decode, then encode each for the log",
    group: "log",
    fn: () => decodeAll((command) => log.bulkArray(command)),
  });
}

{
  // A reply far bigger than one read, as `KEYS *` or `MGET` of many keys gives: the decoder must
  // resume where each read ended, or its time grows with the square of the reply's size.
  const items: Reply[] = [];
  for (let i = 0; i < 100_000; i++) items.push(`key:${String(i).padStart(12, "0")}`);
  const bytes = encodeReply(items);
  Deno.bench({
    name: "decode: a 100,000-element reply arriving in 16 KiB reads",
    group: "big reply",
    fn: () => {
      const decoder = new ReplyDecoder();
      for (let i = 0; i < bytes.length; i += 16_384) {
        decoder.push(bytes.subarray(i, i + 16_384));
        decoder.next();
      }
    },
  });
}
