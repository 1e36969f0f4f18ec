import assert from "node:assert/strict";
import { exercise, findMarkers, linesPerStep } from "./markers.ts";
import { rewriteImports, rewriteLinks } from "./exercise.ts";

const STUBS = "../../shared/server/not_implemented.ts";

Deno.test("exercise() turns a marked handler into a TODO that names its step", () => {
  const source = [
    `import { OK } from "../../shared/resp/reply.ts";`,
    `export const commands = [{`,
    `  name: "set",`,
    `  // exercise step 4: store the value`,
    `  handler: ({ db }, args) => {`,
    `    db.set(args[1], { nested: "}, still inside" }.nested);`,
    `    return OK;`,
    `  },`,
    `  flags: ["write"],`,
    `}];`,
  ].join("\n");
  const { text, markers } = exercise(source, STUBS);
  assert.deepEqual(markers, [{ step: 4, hint: "store the value", line: 4 }]);
  assert.equal(
    text,
    [
      `import { OK } from "../../shared/resp/reply.ts";`,
      `import { todoHandler } from "../../shared/server/not_implemented.ts";`,
      `export const commands = [{`,
      `  name: "set",`,
      `  // TODO (lesson step 4): store the value`,
      `  handler: todoHandler(4, "store the value"),`,
      `  flags: ["write"],`,
      `}];`,
      ``,
      `// Used by the finished code of this file's TODOs: delete this line once yours uses them.`,
      `void [OK];`,
    ].join("\n"),
  );
});

Deno.test("exercise() empties a marked function's body, destructured parameters and all", () => {
  const source = [
    `// exercise step 2: count the keys`,
    `function count({ db }: Session, args: string[]): Reply {`,
    "  return args.filter((k) => db.has(k)).length; // `}` in a comment",
    `}`,
    `const after = 1;`,
  ].join("\n");
  const { text } = exercise(source, STUBS);
  assert.match(text, /function count\(\{ db \}: Session, args: string\[\]\): Reply \{\n/);
  assert.match(
    text,
    /\{\n {2}void \[args, db\]; .*\n {2}return notImplemented\(2, "count the keys"\);\n\}\nconst after = 1;$/,
  );
  assert.doesNotMatch(text, /filter/);
});

Deno.test("exercise() replaces a marked block with its starter line", () => {
  const source = [
    `    // exercise step 1: start the task and accept the next client`,
    `    const task = serve(conn);`,
    `    tasks.add(task);`,
    `    // exercise starter: await serve(conn);`,
    `    next();`,
  ].join("\n");
  const { text } = exercise(source, STUBS);
  assert.ok(
    text.endsWith(
      [
        `    // TODO (lesson step 1): start the task and accept the next client`,
        `    await serve(conn);`,
        `    next();`,
      ].join("\n"),
    ),
  );
});

Deno.test("exercise() refuses a marker above code it cannot replace", () => {
  assert.throws(
    () => exercise(`// exercise step 3: do it\nconst x = 1;\n`, STUBS),
    SyntaxError,
  );
});

Deno.test("a file without markers is copied unchanged", () => {
  const source = `// exercises are elsewhere\nexport const x = 1;\n`;
  assert.deepEqual(findMarkers(source), []);
  assert.equal(exercise(source, STUBS).text, source);
});

Deno.test("rewriteImports() keeps imports inside the lab and re-aims the others", () => {
  const source = [
    `import { a } from "./commands.ts";`,
    `import { b } from "../../shared/resp/reply.ts";`,
    `import { c } from "../01-single-client/server.ts";`,
  ].join("\n");
  const out = rewriteImports(
    source,
    "/repo/labs/02-threaded/server.ts",
    "/repo/exercises/02-threaded/server.ts",
    "/repo/labs/02-threaded",
  );
  assert.equal(
    out,
    [
      `import { a } from "./commands.ts";`,
      `import { b } from "../../shared/resp/reply.ts";`,
      `import { c } from "../../labs/01-single-client/server.ts";`,
    ].join("\n"),
  );
});

Deno.test("exercise() with `through` keeps the reference code of steps 1 to K", () => {
  const source = [
    `export const commands = [{`,
    `  // exercise step 1: reply PONG`,
    `  handler: () => "PONG",`,
    `}, {`,
    `  // exercise step 4: store the value`,
    `  handler: () => "OK",`,
    `}];`,
  ].join("\n");
  const { text, markers } = exercise(source, STUBS, 3);
  assert.deepEqual(markers, [{ step: 4, hint: "store the value", line: 5 }]);
  assert.match(text, /\/\/ exercise step 1: reply PONG\n {2}handler: \(\) => "PONG",/);
  assert.match(text, /handler: todoHandler\(4, "store the value"\)/);
  // Through the last step, the file is the reference, with no stubs' import to leave unused.
  assert.deepEqual(exercise(source, STUBS, 4), { text: source, markers: [] });
});

Deno.test("rewriteLinks() points a workspace lesson's links at files it lacks back at the repository", () => {
  const lesson = [
    "[ours](commands.ts), [a test](race/lost_update_test.ts#top), [shared](../../shared/glob.ts),",
    "[lab 1](../01-single-client/decoder.ts), [web](https://redis.io/), [here](#steps)",
  ].join("\n");
  const copied = (path: string) => path === "commands.ts";
  assert.equal(
    rewriteLinks(
      lesson,
      "/r/labs/02-threaded/README.md",
      "/r/exercises/02-threaded/README.md",
      "/r/labs/02-threaded",
      copied,
    ),
    [
      "[ours](commands.ts), [a test](../../labs/02-threaded/race/lost_update_test.ts#top), [shared](../../shared/glob.ts),",
      "[lab 1](../../labs/01-single-client/decoder.ts), [web](https://redis.io/), [here](#steps)",
    ].join("\n"),
  );
});

Deno.test("linesPerStep() counts the code each step's TODOs take out, not blanks or comments", () => {
  const source = [
    "function a(): number {",
    "  // exercise step 1: add them",
    "  const x = 1;",
    "",
    "  // a note",
    "  return x + 1;",
    "  // exercise starter: return 0;",
    "}",
    "function b(): number {",
    "  // exercise step 3: multiply",
    "  return 2 * 3;",
    "  // exercise starter: return 0;",
    "}",
  ].join("\n");
  assert.deepEqual(linesPerStep(source), new Map([[1, 2], [3, 1]]));
});

Deno.test("exercise() names what only the taken-out code used, so the workspace type-checks", () => {
  const source = [
    `import { hkdf } from "node:crypto";`,
    `class Keys {`,
    `  #nonce = new Uint8Array(12);`,
    `  derive(secret: Uint8Array, salt: Uint8Array): Uint8Array {`,
    `    // exercise step 2: derive the key`,
    `    return hkdf(secret, salt, this.#nonce);`,
    `    // exercise starter: throw new NotImplementedError(2, "derive the key");`,
    `  }`,
    `}`,
    `export const specs = [["get", 2]].map(([name, arity]) => ({`,
    `  name,`,
    `  // exercise step 3: use the arity`,
    `  handler: () => arity,`,
    `}));`,
  ].join("\n");
  const { text } = exercise(source, STUBS);
  assert.match(
    text,
    /\n {4}void \[hkdf, secret, salt, this\.#nonce\]; .*\n {4}throw new NotImplementedError/,
  );
  // A handler has no room for a statement: the parameter around it is marked unused instead.
  assert.match(text, /\.map\(\(\[name, _arity\]\) => \(\{/);
  assert.match(text, /^import \{ NotImplementedError, todoHandler \} from/m);
});
