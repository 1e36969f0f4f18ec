/**
 * Fuzz tests for lab 2's request decoder (inputs and runner: `shared/testing/fuzz.ts`), and the
 * check that lab 2's optimisations changed nothing a client can see: on every input, decoded in
 * any chunking, lab 2's decoder gives exactly the commands and the protocol error that lab 1's
 * plain decoder gives.
 *
 * @module
 */

import assert from "node:assert/strict";
import { byteStringToBytes } from "../../shared/resp/bytes.ts";
import { encodeCommand } from "../../shared/resp/encoder.ts";
import {
  assertSameOutcome,
  chunkings,
  decodeRequests,
  fuzz,
  fuzzRequestDecoder,
  randomRequestInput,
} from "../../shared/testing/fuzz.ts";
import { showBytes } from "../../shared/testing/raw_client.ts";
import { Decoder } from "../01-single-client/decoder.ts";
import { RequestDecoder } from "./request_decoder.ts";

const INPUTS = 10_000;
const DIFFERENTIAL_INPUTS = 3_000;

fuzzRequestDecoder(
  "RequestDecoder survives random and mutated pipelines in any chunking",
  INPUTS,
  (limits) => new RequestDecoder(limits),
  (decoder, command) => {
    // The frame lab 4's log may copy instead of encoding the command must be that encoding.
    const length = decoder.lastFrameLength(command);
    if (length >= 0) {
      const frame = new Uint8Array(length);
      decoder.copyLastFrame(frame, 0);
      assert.deepEqual(
        frame,
        encodeCommand(command.map(byteStringToBytes)),
        "the frame for the log",
      );
    }
  },
);

fuzz(
  "RequestDecoder decodes every input exactly as lab 1's plain Decoder does",
  DIFFERENTIAL_INPUTS,
  (rng) => {
    const { input, limits } = randomRequestInput(rng);
    for (const chunks of [[input], ...chunkings(rng, input)]) {
      assertSameOutcome(
        decodeRequests(new RequestDecoder(limits), chunks),
        decodeRequests(new Decoder(limits), chunks),
        `lab 2 against lab 1, chunked into ${chunks.map((c) => c.length).join(",")}: ` +
          showBytes(input),
      );
    }
  },
);
