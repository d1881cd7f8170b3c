// The loaded bundles, by folder name. Lookups only ever hit this map, so a name
// like '../x' is simply unknown. Reload builds the new Classifier first, then swaps
// the map entry; the old one closes once its last in-flight request is done.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { createClassifier, type Classifier } from './backend.js';

export interface ModelEntry {
  name: string;
  dir: string;
  classifier: Classifier;
  /** sha256 of manifest.json, hex. */
  bundleHash: string;
  leases: number;
  retired: boolean;
}

export type ClassifierFactory = (dir: string) => Promise<Classifier>;

/** A lease on an entry: the entry stays open until release() is called. */
export interface Lease {
  entry: ModelEntry;
  release(): void;
}

/** Subfolders of `root` that hold a manifest.json, sorted by name. */
export function discoverBundles(root: string): { name: string; dir: string }[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`models directory not found: ${path.resolve(root)}`);
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(root, d.name, 'manifest.json')))
    .map((d) => ({ name: d.name, dir: path.join(root, d.name) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const hashOf = (dir: string): string => createHash('sha256').update(readFileSync(path.join(dir, 'manifest.json'))).digest('hex');

export class ModelRegistry {
  private readonly entries = new Map<string, ModelEntry>();
  private readonly reloading = new Map<string, Promise<ModelEntry>>();
  /** A reload asked for while one was running: it starts when that one ends (one per model, shared). */
  private readonly queued = new Map<string, Promise<ModelEntry>>();
  private closed = false;
  private readonly watched: string[] = [];
  /** Called after every swap, e.g. to refresh the model-info metric. */
  onSwap: (entry: ModelEntry, old: ModelEntry | undefined) => void = () => undefined;

  constructor(
    private readonly log: Logger,
    private readonly factory: ClassifierFactory = (dir) => createClassifier(dir),
  ) {}

  /** Loads one bundle and registers it under `name` (replacing any previous one atomically). */
  async load(name: string, dir: string): Promise<ModelEntry> {
    const bundleHash = hashOf(dir);
    const classifier = await this.factory(dir);
    const entry: ModelEntry = { name, dir, classifier, bundleHash, leases: 0, retired: false };
    const old = this.entries.get(name);
    this.entries.set(name, entry);
    this.onSwap(entry, old);
    if (old) this.retire(old);
    this.log.info({ model: name, version: classifier.manifest.version, bundleHash }, old ? 'model reloaded' : 'model loaded');
    return entry;
  }

  /**
   * Reloads `name` from its folder. Throws (old one kept) on failure. A call while a load is running does not join
   * it (that load may have read the files before the change this call is about): one more load is queued after
   * it, which every call until it starts shares.
   */
  reload(name: string): Promise<ModelEntry> {
    const cur = this.entries.get(name);
    if (!cur) return Promise.reject(new Error(`unknown model '${name}'`));
    // A queued load is the newest one: join it (it starts after the running load, reading the files then).
    const queued = this.queued.get(name);
    if (queued) return queued;
    const running = this.reloading.get(name);
    if (!running) return this.startReload(name, cur.dir);
    const next = running
        .catch(() => undefined)
      .then(() => {
        this.queued.delete(name);
        if (this.closed) throw new Error(`reload of '${name}' cancelled: the server is closing`);
        return this.startReload(name, cur.dir);
      });
    this.queued.set(name, next);
    return next;
  }

  private startReload(name: string, dir: string): Promise<ModelEntry> {
    const p = this.load(name, dir)
      .catch((err: unknown) => {
        const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
        this.log.error({ model: name, err: msg }, 'reload failed; the previous version keeps serving');
        throw new Error(`reload of '${name}' failed: ${msg}`);
      })
      .finally(() => {
        if (this.reloading.get(name) === p) this.reloading.delete(name); // not a newer load's entry
      });
    this.reloading.set(name, p);
    return p;
  }

  /** Polls each bundle's manifest.json mtime and reloads on change (errors are logged by reload()). */
  watch(intervalMs: number): void {
    if (intervalMs <= 0) return;
    for (const e of this.entries.values()) {
      const file = path.join(e.dir, 'manifest.json');
      const name = e.name;
      watchFile(file, { interval: intervalMs, persistent: false }, (cur: Stats, prev: Stats) => {
        if (cur.mtimeMs !== prev.mtimeMs && cur.mtimeMs !== 0) this.reload(name).catch(() => undefined);
      });
      this.watched.push(file);
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  get(name: string): ModelEntry | undefined {
    return this.entries.get(name);
  }

  /** Takes a lease on the current entry of `name`, or undefined when no such model is loaded. */
  acquire(name: string): Lease | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    entry.leases++;
    let done = false;
    return {
      entry,
      release: () => {
        if (done) return;
        done = true;
        entry.leases--;
        if (entry.retired && entry.leases === 0) this.closeEntry(entry);
      },
    };
  }

  private retire(e: ModelEntry): void {
    e.retired = true;
    if (e.leases === 0) this.closeEntry(e);
  }

  private closeEntry(e: ModelEntry): void {
    e.classifier.close().catch((err: unknown) => this.log.warn({ model: e.name, err: String(err) }, 'closing a retired model failed'));
  }

  /** True when every registered model is loaded and no longer retired. */
  get ready(): boolean {
    return this.entries.size > 0 && [...this.entries.values()].every((e) => e.classifier.ready);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.watched.splice(0)) unwatchFile(f);
    await Promise.allSettled([...this.reloading.values(), ...this.queued.values()]);
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.classifier.close()));
  }
}
