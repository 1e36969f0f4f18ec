/**
 * Fuzz tests for lab 2's request decoder (inputs and runner: `shared/testing/fuzz.ts`), and the
 * check that lab 2's optimisations changed nothing a client can see: on every input, decoded in
 * any chunking, lab 2's decoder gives exactly the commands and the protocol error that lab 1's
 * plain decoder gives.
 *
 * @module
 */

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
