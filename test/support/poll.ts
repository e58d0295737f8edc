/**
 * Polls `probe` every 150 ms until it gives a value, for at most `ms`; fails naming `what`.
 */
export const until = async <A>(what: string, probe: () => Promise<A | undefined>, ms = 20_000): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 150))
  }
}

/** `until` for a yes/no probe. */
export const untilTrue = (what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<true> =>
  until(what, async () => ((await probe()) ? true : undefined), ms)
