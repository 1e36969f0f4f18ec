/**
 * Runs lab 2's suite against lab 2's server, or against any server given with
 * `deno task test:lab2 -- --addr HOST:PORT`.
 *
 * @module
 */

import { registerSuite } from "../../shared/testing/suite.ts";
import { lab2Steps } from "./suite.ts";

registerSuite("lab 2 suite", "labs/02-threaded/server.ts", lab2Steps);
