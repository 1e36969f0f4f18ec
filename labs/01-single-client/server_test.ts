/**
 * Runs lab 1's suite against lab 1's server, or against any server given with
 * `deno task test:lab1 -- --addr HOST:PORT`.
 *
 * @module
 */

import { registerSuite } from "../../shared/testing/suite.ts";
import { lab1Steps } from "./suite.ts";

registerSuite("lab 1 suite", "labs/01-single-client/server.ts", lab1Steps);
