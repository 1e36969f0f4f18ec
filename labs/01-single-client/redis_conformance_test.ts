/**
 * Runs the Redis-compatible steps of lab 1's suite against a real `redis-server`: the proof that
 * what the suite expects is what Redis does.
 *
 * @module
 */

import { registerRedisConformance } from "../../shared/testing/suite.ts";
import { lab1Steps } from "./suite.ts";

registerRedisConformance("lab 1 suite against real Redis", lab1Steps);
