/**
 * Lab 4's persistence: a snapshot of the keyspace, an append-only log of every write, or both.
 *
 * The two answer the same question — what is left after the server stops? — at different prices:
 *
 * | | snapshot (`SAVE`, `BGSAVE`, `--save`) | append-only log (`--appendonly yes`) |
 * |---|---|---|
 * | what is on disk | every key, as it was at one moment | every write command, in order |
 * | a crash loses | everything since the last snapshot | nothing (`always`), about a second (`everysec`) |
 * | cost per write | none | an encode, a share of a `write()`, maybe an fsync |
 * | restart | read one compact file | replay every command (compacted by `BGREWRITEAOF`) |
 *
 * How the server uses this module (see `stage.ts`):
 *
 * ```
 * const persistence = createPersistence(server, databases, options);
 * ... once listening, clients answered -LOADING:     await persistence.load()
 * ... every write that changed the keyspace (RESP or
 *     memcached), through the write path; `null`
 *     with no log (--appendonly no):                  persistence.propagate?.(args, db)
 * ... before a batch of replies is sent:              await persistence.beforeWrite()
 * ... asked to stop, clients still served:           await persistence.shutdown(request)
 *                                                     (false: it could not save; keep running)
 * ... once the clients are gone:                      await persistence.close()
 * ```
 *
 * **Which file wins at start-up.** With `--appendonly yes` and a log present, only the log is
 * loaded (Redis's rule: the log is the more complete record, and loading both would apply writes
 * twice). With `--appendonly yes` and no log yet, the snapshot is loaded and a log is written from
 * it at once, so that turning the log on never starts the server empty — the classic Redis 6
 * surprise. With `--appendonly no` the log is ignored and the snapshot is loaded. A log that was
 * there once and is gone now stops the start (see `manifest.ts`).
 *
 * @module
 */

export {
  AofError,
  createPersistence,
  type FsyncPolicy,
  MissingLogError,
  openPersistence,
  type Persistence,
  type PersistenceOptions,
  type PersistenceTuning,
  SnapshotError,
} from "./persistence.ts";
