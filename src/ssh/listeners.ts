/**
 * Listeners and callbacks handed to ssh2 (channel events, SFTP replies, forwarded
 * connections) run inside ssh2's packet parser: an exception thrown there is not caught by
 * anyone and ends the process, with every job, tunnel and session. `guarded` wraps a
 * listener so that what it throws goes to `onThrow`, which fails the one call it belongs to.
 *
 * @since 0.2.0
 */

/** `guarded(onThrow)(listener)`: `listener`, its exceptions handed to `onThrow` instead of thrown. */
export const guarded = (onThrow: (e: unknown) => void) =>
<A extends ReadonlyArray<unknown>>(listener: (...args: A) => void) =>
(...args: A): void => {
  try {
    listener(...args)
  } catch (e) {
    onThrow(e)
  }
}
