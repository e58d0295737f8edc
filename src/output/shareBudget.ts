/**
 * Split a byte budget among several outputs (`ssh_exec_many`'s cap for the whole call):
 * an output smaller than an equal share keeps all it has, and what it leaves goes to the
 * larger ones, which share it equally (water-filling). Many quiet hosts and one chatty
 * one: the chatty one gets nearly the whole budget, not 1/N of it.
 *
 * @since 0.1.0
 */

/** Bytes allowed to each of `sizes` (same order); the sum is at most `budget`, and equals the sizes' sum when that fits. */
export const shareBudget = (sizes: ReadonlyArray<number>, budget: number): Array<number> => {
  const shares = sizes.map(() => 0)
  const smallestFirst = sizes.map((_, i) => i).sort((a, b) => sizes[a]! - sizes[b]!)
  let left = Math.max(0, Math.floor(budget))
  for (const [k, i] of smallestFirst.entries()) {
    const share = Math.min(sizes[i]!, Math.floor(left / (smallestFirst.length - k)))
    shares[i] = share
    left -= share
  }
  return shares
}
