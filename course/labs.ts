/**
 * The course's labs, as the course tools see them: where each lives, how to start its server, and
 * its black-box suite.
 *
 * @module
 */

import type { SuiteStep } from "../shared/testing/suite.ts";

/** One lab of the course. */
export interface Lab {
  /** The name the tools take on the command line: `lab1` ... `lab4`. */
  id: string;
  /** The lab's directory from the repository root, such as `labs/01-single-client`. */
  dir: string;
  /** The lab's title. */
  title: string;
  /** Loads the lab's suite: its own checks and the earlier labs' as regressions. */
  steps(): Promise<readonly SuiteStep[]>;
  /** Deno permission flags its server needs. */
  denoFlags: string[];
  /** Arguments every start of its server gets (beyond `--port 0`). */
  serverArgs: string[];
}

/** Every lab with a suite, in course order. */
export const LABS: readonly Lab[] = [
  {
    id: "lab1",
    dir: "labs/01-single-client",
    title: "Lab 1: one client at a time",
    steps: async () => (await import("../labs/01-single-client/suite.ts")).lab1Steps,
    denoFlags: ["--allow-net"],
    serverArgs: [],
  },
  {
    id: "lab2",
    dir: "labs/02-threaded",
    title: "Lab 2: many clients at once",
    steps: async () => (await import("../labs/02-threaded/suite.ts")).lab2Steps,
    denoFlags: ["--allow-net"],
    serverArgs: [],
  },
];

/**
 * Finds a lab by its command-line name.
 *
 * @param id Such as `lab1`.
 * @returns The lab, or `undefined`.
 */
export function findLab(id: string): Lab | undefined {
  return LABS.find((lab) => lab.id === id);
}

/**
 * The directory name of a lab inside `exercises/`: the lab's own, such as `01-single-client`.
 *
 * @param lab The lab.
 * @returns Its last path segment.
 */
export function labFolder(lab: Lab): string {
  return lab.dir.slice(lab.dir.lastIndexOf("/") + 1);
}
