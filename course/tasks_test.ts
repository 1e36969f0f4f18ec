/**
 * The course tools as people type them: `deno task exercise`, `deno task check` and
 * `deno task grade`, each run as a subprocess with the permissions deno.json gives it.
 *
 * `grade_test.ts` proves the checks by calling the tools' functions under `deno task test`'s
 * broad permissions. That cannot see the tasks themselves, and it missed a pair that could not
 * start: `deno task check lab3` and `deno task grade lab4` died with `NotCapable` before their
 * first check, because the tasks could not write the scratch directory a run makes. Only running
 * the task finds that, so every test here does, with the commands the README and the tools' own
 * help print (a free port standing in for 6379 and 11211, which may be taken).
 *
 * Every run happens in a copy of the repository's tools and labs, so `exercise` writes its
 * `exercises/` there, never into the working tree, and each test ends by checking that the runs
 * left nothing in the copy's `data/`, where their scratch directories go.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, hasProgram, startLabServer } from "../shared/testing/processes.ts";
import {
  assertGradePassed,
  copyRepo,
  copyTree,
  firstFailure,
  shown,
  task,
} from "./task_support.ts";

/**
 * Where `deno task check` first fails on an untouched workspace, lab by lab. DESIGN.md's contract
 * is step 1 everywhere; labs 3 and 4 begin with a step that has no code to write (and so no check),
 * and this table says so instead of hiding it.
 */
const UNTOUCHED_FIRST_FAILURE: Record<string, string> = {
  lab1: "Step 1. ",
  lab2: "Step 1. ",
  // Lab 3's step 1 (the threat) has nothing to write and no check; step 2 is the first that does.
  lab3: "Step 2. ",
  // Lab 4's step 1 (a keyspace whose keys expire) names no check; step 2 is the first that does.
  lab4: "Step 2. ",
};

const EXERCISE_LABS: Record<string, string> = {
  lab1: "01-single-client",
  lab2: "02-threaded",
  lab3: "03-secure",
  lab4: "04-ttl-persistence",
};

Deno.test("a student's first hour: exercise writes a workspace and check fails it where the lesson starts", async (t) => {
  await using repo = await copyRepo();
  for (const [lab, folder] of Object.entries(EXERCISE_LABS)) {
    await t.step(`deno task exercise ${lab}, then deno task check ${lab}`, async () => {
      const exercise = await task(repo.path, "exercise", lab);
      assert.equal(exercise.code, 0, shown(exercise));
      assert.match(exercise.stdout, new RegExp(`your workspace is exercises/${folder}/`));
      const server = await Deno.readTextFile(join(repo.path, "exercises", folder, "server.ts"));
      assert.ok(server.length > 0);

      const check = await task(repo.path, "check", lab);
      assert.equal(check.code, 1, shown(check));
      assert.match(check.stdout, /Stopped at the first failure/);
      const failure = firstFailure(check.stdout);
      assert.ok(failure, shown(check));
      assert.ok(
        failure.heading.startsWith(UNTOUCHED_FIRST_FAILURE[lab]),
        `first failure under "${failure.heading}": ${failure.check}`,
      );
    });
  }

  await t.step(
    "deno task check lab4-memcache fails lab 4's untouched workspace at its step 1",
    async () => {
      // Lab 4's workspace leaves the memcached port's parser to write too.
      const check = await task(repo.path, "check", "lab4-memcache");
      assert.equal(check.code, 1, shown(check));
      const failure = firstFailure(check.stdout);
      assert.ok(failure?.heading.startsWith("Step 1. "), shown(check));
    },
  );

  await t.step(
    "deno task exercise lab1 keeps a changed file, and --force starts it over",
    async () => {
      const commands = join(repo.path, "exercises/01-single-client/commands.ts");
      await Deno.writeTextFile(commands, "// my own work\n");
      const again = await task(repo.path, "exercise", "lab1");
      assert.equal(again.code, 0, shown(again));
      assert.match(again.stdout, /kept +exercises\/01-single-client\/commands\.ts/);
      assert.equal(await Deno.readTextFile(commands), "// my own work\n");
      const forced = await task(repo.path, "exercise", "lab1", "--force");
      assert.equal(forced.code, 0, shown(forced));
      assert.match(forced.stdout, /overwritten +exercises\/01-single-client\/commands\.ts/);
      assert.notEqual(await Deno.readTextFile(commands), "// my own work\n");
      // The work --force replaced is saved beside the workspace, and the task says where.
      const saved = /saved in (exercises\/01-single-client\.bak-\d{8}T\d{6})\//.exec(forced.stdout);
      assert.ok(saved, shown(forced));
      assert.equal(
        await Deno.readTextFile(join(repo.path, saved[1], "commands.ts")),
        "// my own work\n",
      );
    },
  );

  await t.step("deno task exercise and check refuse a lab they do not know", async () => {
    const exercise = await task(repo.path, "exercise", "lab5");
    assert.equal(exercise.code, 2, shown(exercise));
    const check = await task(repo.path, "check", "lab9");
    assert.equal(check.code, 2, shown(check));
  });
});

Deno.test("deno task check passes a finished workspace, every lab, and --step 4 stops at step 4", async (t) => {
  await using repo = await copyRepo();
  // A finished workspace is the reference itself. `exercises/` sits as deep as `labs/`, so a copy
  // of every lab there keeps each relative import working, earlier labs' included.
  await copyTree(join(repo.path, "labs"), join(repo.path, "exercises"));
  for (const lab of [...Object.keys(EXERCISE_LABS), "lab2-proxy", "lab4-memcache"]) {
    await t.step(`deno task check ${lab}`, async () => {
      const check = await task(repo.path, "check", lab);
      assert.equal(check.code, 0, shown(check));
      assert.match(check.stdout, /All [1-9]\d* checks of every step pass/);
    });
  }
  await t.step("deno task check lab1 --step 4", async () => {
    const check = await task(repo.path, "check", "lab1", "--step", "4");
    assert.equal(check.code, 0, shown(check));
    assert.match(check.stdout, /All [1-9]\d* checks of steps 1 to 4 pass/);
    assert.match(check.stdout, /^Step 4\. /m);
    assert.doesNotMatch(check.stdout, /^(Step 5\.|More checks)/m);
  });
});

Deno.test("deno task grade passes the reference labs, given by --addr or --cmd", async (t) => {
  await using repo = await copyRepo();
  const deno = `'${Deno.execPath()}'`;
  const serverDir = await Deno.makeTempDir({ prefix: "cachelab-tasks-server-" });
  try {
    await t.step("deno task grade lab1 --cmd", async () => {
      const cmd = `${deno} run --allow-net labs/01-single-client/server.ts --port {port}`;
      assertGradePassed(await task(repo.path, "grade", "lab1", "--cmd", cmd), "lab1");
    });

    await t.step("deno task grade lab2 --addr", async () => {
      await using server = await startLabServer("labs/02-threaded/server.ts");
      assertGradePassed(await task(repo.path, "grade", "lab2", "--addr", server.addr), "lab2");
    });

    await t.step("deno task grade lab2, which starts the reference itself", async () => {
      assertGradePassed(await task(repo.path, "grade", "lab2"), "lab2");
    });

    await t.step(
      "deno task grade lab4 --cmd with {dir} and {flags}, fsyncs seen through strace",
      async () => {
        const cmd = `${deno} run --allow-net --allow-read --allow-write --allow-env ` +
          "labs/04-ttl-persistence/server.ts --port {port} --dir {dir} --save '' {flags}";
        const lab4 = await task(repo.path, "grade", "lab4", "--cmd", cmd);
        assertGradePassed(lab4, "lab4");
        // The command is restarted under strace (its shell, then the server), and still stopped;
        // without strace the check is left out, and said so.
        assert.match(
          lab4.stdout,
          hasProgram("strace")
            ? /ok {3}SAVE makes the snapshot durable/
            : /left out: they need strace, which is not installed here/,
        );
      },
    );

    await t.step("deno task grade lab2-proxy --cmd with {upstream}, not --addr", async () => {
      const cmd = `${deno} run --allow-net labs/02-threaded/proxy.ts --upstream {upstream} ` +
        "--port {port} {flags}";
      assertGradePassed(await task(repo.path, "grade", "lab2-proxy", "--cmd", cmd), "lab2-proxy");
      // The checks count the upstream's calls: one the grader did not start cannot be watched.
      const addr = await task(repo.path, "grade", "lab2-proxy", "--addr", "127.0.0.1:1");
      assert.equal(addr.code, 3, shown(addr));
      assert.match(addr.stdout, /--cmd with \{upstream\}/);
    });

    await t.step("deno task grade lab3 --cmd", async () => {
      // Lab 3's flags are `deno task lab3`'s. The grader cannot know this server's key, so its
      // checks trust whichever key the server shows.
      const cmd = `${deno} run --allow-net --allow-read --allow-write --allow-env --allow-ffi ` +
        `labs/03-secure/server.ts --port {port} --dir '${serverDir}/lab3'`;
      const lab3 = await task(repo.path, "grade", "lab3", "--cmd", cmd);
      assertGradePassed(lab3, "lab3");
      // Step 3's checks run the lab's client, which a command does not name: left out, and said so.
      assert.match(lab3.stdout, /\(3 checks of the lab's own program \(lab 3's client/);
    });

    await t.step("deno task grade lab4 --addr and lab4-memcache --addr, one server", async () => {
      const memcachePort = freePort();
      await using server = await startLabServer("labs/04-ttl-persistence/server.ts", {
        args: ["--dir", `${serverDir}/lab4`, "--save", "", "--memcache-port", `${memcachePort}`],
        denoFlags: ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
      });
      const lab4 = await task(repo.path, "grade", "lab4", "--addr", server.addr);
      assertGradePassed(lab4, "lab4");
      // A server the grader did not start, it cannot restart: the checks of what survives a
      // restart (two of SAVE, one of BGSAVE) and of what reaches the disk (SAVE's fsyncs, the
      // log's under always, seen by restarting the server under strace) are left out, and said so.
      assert.match(lab4.stdout, /\(5 checks that restart the server left out/);
      const memcache = `${server.host}:${memcachePort}`;
      assertGradePassed(
        await task(repo.path, "grade", "lab4-memcache", "--addr", memcache),
        "lab4-memcache",
      );
    });

    await t.step({
      name: `deno task grade lab2 --cmd "redis-server ..." --compatible-only` +
        (hasProgram("redis-server") ? "" : " (skipped: redis-server is not installed)"),
      ignore: !hasProgram("redis-server"),
      fn: async () => {
        const cmd = "redis-server --port {port} --save ''";
        const run = await task(repo.path, "grade", "lab2", "--cmd", cmd, "--compatible-only");
        assertGradePassed(run, "lab2");
        // No {flags} in that command: the checks of limits are left out, and the report says so.
        assert.match(
          run.stdout,
          /\(3 checks left out: they start the server with options .*\{flags\} placeholder\)/,
        );
      },
    });

    await t.step(
      "deno task grade lab4-memcache --cmd with {port2}, {dir} and {flags}",
      async () => {
        // The checks talk to {port2}, the memcached port, once it is in the command.
        const cmd = `${deno} run --allow-net --allow-read --allow-write --allow-env ` +
          `labs/04-ttl-persistence/server.ts --port {port} --memcache-port {port2} --dir {dir} {flags}`;
        const run = await task(repo.path, "grade", "lab4-memcache", "--cmd", cmd);
        assertGradePassed(run, "lab4-memcache");
        assert.doesNotMatch(run.stdout, /left out/);
      },
    );

    await t.step({
      name: `deno task grade lab4-memcache --cmd "memcached -p {port}" --compatible-only` +
        (hasProgram("memcached") ? "" : " (skipped: memcached is not installed)"),
      ignore: !hasProgram("memcached"),
      fn: async () => {
        // No {port2}: a server that speaks only memcached's protocol is checked on {port}.
        // (`-u root`: memcached will not run as root without it, and ignores it otherwise.)
        const cmd = "memcached -l 127.0.0.1 -p {port} -U 0 -u root";
        const run = await task(
          repo.path,
          "grade",
          "lab4-memcache",
          "--cmd",
          cmd,
          "--compatible-only",
        );
        assertGradePassed(run, "lab4-memcache");
      },
    });
  } finally {
    await Deno.remove(serverDir, { recursive: true });
  }
});

Deno.test("deno task grade says it could not run (exit 3) when there is no server, not 40 failures", async (t) => {
  await using repo = await copyRepo();
  await t.step("--addr where nothing listens", async () => {
    const run = await task(repo.path, "grade", "lab2", "--addr", `127.0.0.1:${freePort()}`);
    assert.equal(run.code, 3, shown(run));
    assert.match(run.stdout, /^lab2: could not run: Nothing accepts connections at 127\.0\.0\.1:/m);
    assert.equal(firstFailure(run.stdout), undefined, shown(run));
  });
  await t.step("a flag with a value it cannot use is a usage error, exit 2", async () => {
    for (const flags of [["--format", "xml"], ["--seed", "abc"], ["--timeout", "0"]]) {
      const run = await task(repo.path, "grade", "lab1", ...flags);
      assert.equal(run.code, 2, shown(run));
      assert.match(run.stderr, new RegExp(`^Invalid ${flags[0]}: "${flags[1]}"`, "m"));
    }
  });
  await t.step(
    `--cmd "python3 server.py --port {port}", exactly as the README prints it`,
    async () => {
      // There is no server.py here: whether python3 is installed or not, the command exits.
      const cmd = "python3 server.py --port {port}";
      const run = await task(repo.path, "grade", "lab2", "--cmd", cmd);
      assert.equal(run.code, 3, shown(run));
      assert.match(
        run.stdout,
        /could not run: The server exited with status \d+ before it listened on port \d+/,
      );
    },
  );
});
