/**
 * Runs the Redis-compatible steps of lab 2's suite against a real `redis-server`: the proof that
 * what the suite expects is what Redis does.
 *
 * @module
 */

import { registerRedisConformance } from "../../shared/testing/suite.ts";
import { lab2Steps } from "./suite.ts";

registerRedisConformance("lab 2 suite against real Redis", lab2Steps);
