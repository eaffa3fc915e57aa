/**
 * Serialises work per key within a process (SPEC §4: HubSpot has no conditional write, so two
 * batches writing the same subject at once could lose an update). `acquire` takes every key
 * of a batch at once; a later batch sharing any key waits for the earlier one to release.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>()

  async acquire(keys: Iterable<string>): Promise<() => void> {
    const unique = [...new Set(keys)]
    let release!: () => void
    const mine = new Promise<void>((resolve) => (release = resolve))
    const before = unique.map((key) => this.tails.get(key))
    for (const key of unique) this.tails.set(key, mine)
    await Promise.all(before)
    return () => {
      release()
      for (const key of unique) if (this.tails.get(key) === mine) this.tails.delete(key)
    }
  }

  /** Keys currently held or awaited (for tests and leak checks). */
  get size(): number {
    return this.tails.size
  }
}
