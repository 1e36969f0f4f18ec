/**
 * Runs lab 4's suite against a real `redis-server`: the proof that what the suite expects of every
 * TTL command, option and error is what Redis 7 does.
 *
 * @module
 */

import { registerRedisConformance } from "../../shared/testing/suite.ts";
import { lab4Steps } from "./suite.ts";

registerRedisConformance("lab 4 suite against real Redis", lab4Steps);
