/**
 * Runs lab 4's suite against lab 4's server, or against any server given with
 * `deno task test:lab4 -- --addr HOST:PORT`.
 *
 * @module
 */

import { registerSuite } from "../../shared/testing/suite.ts";
import { lab4Steps } from "./suite.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, lab4Args } from "./test_support.ts";

registerSuite("lab 4 suite", LAB4_ENTRY, lab4Steps, {
  args: lab4Args(),
  denoFlags: [...LAB4_DENO_FLAGS],
});
