/**
 * LineDecoder's common-case `\n` scan in WebAssembly SIMD128 (lineEnds.wat): the
 * chunk is copied into the module's memory (a window of it at a time), then scanned
 * 16 bytes per step. One module instance serves every decoder; a window is valid
 * only until the next `scan` with another chunk, so nothing here must outlive a call.
 *
 * `simdLineEnds` is undefined where WebAssembly or its SIMD is not available; the
 * decoder then scans in JS.
 *
 * @since 0.1.0
 */
import { lineEndsWasm } from "./lineEndsWasm.js"

/** Where the module writes the line ends, and where the chunk's bytes go (see lineEnds.wat). */
const ENDS = 64
const DATA = 16384
/** Line ends one `scan` returns at most (the room between ENDS and DATA). */
export const MAX_ENDS = (DATA - ENDS) / 4

/** The part of the WebAssembly JS API used here (the project's `lib` does not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean
  readonly Module: new (bytes: Uint8Array) => object
  readonly Instance: new (module: object) => { readonly exports: Readonly<Record<string, unknown>> }
  readonly Memory: abstract new (...args: Array<never>) => { readonly buffer: ArrayBuffer }
}

interface LineEndsExports {
  readonly memory: { readonly buffer: ArrayBuffer }
  readonly lines: (p: number, end: number, limit: number, cap: number, bias: number) => number
}

export class SimdLineEnds {
  /** The line ends the last `scan` found (its first `count`): positions in the chunk, one past each `\n`. */
  readonly ends: Int32Array
  /** After `scan`: where the first line it did not take starts, and where its scan ended. */
  next = 0
  scanned = 0
  private readonly lines: LineEndsExports["lines"]
  private readonly bytes: Uint8Array
  private readonly resume: Int32Array
  /** Bytes of the chunk a window holds at most (16 left for the loads past the end). */
  private readonly window: number
  /** The chunk whose bytes `[heldFrom, heldTo)` are in memory at DATA. */
  private held: Uint8Array | undefined = undefined
  private heldFrom = 0
  private heldTo = 0

  constructor(exports: LineEndsExports) {
    this.lines = exports.lines
    const buffer = exports.memory.buffer
    this.bytes = new Uint8Array(buffer)
    this.resume = new Int32Array(buffer, 0, 1)
    this.ends = new Int32Array(buffer, ENDS, MAX_ENDS)
    this.window = buffer.byteLength - DATA - 16
  }

  /**
   * The lines of `data[start, to)` that end there within `limit` bytes, at most `cap`
   * (≤ `MAX_ENDS`) of them, into `ends`. Stops early at a longer line or at the end of the
   * window: then `scanned` < `to`, and when `scanned − next ≤ limit` a further call goes on.
   */
  scan(data: Uint8Array, start: number, to: number, limit: number, cap: number): number {
    if (this.held !== data || start < this.heldFrom || (this.heldTo < to && this.heldTo - start <= limit)) {
      const end = Math.min(data.length, start + this.window)
      this.bytes.set(data.subarray(start, end), DATA)
      this.held = data
      this.heldFrom = start
      this.heldTo = end
    }
    const at = this.heldFrom - DATA
    const e = Math.min(to, this.heldTo)
    const count = this.lines(start - at, e - at, limit, cap, at)
    this.next = this.resume[0]! + at
    this.scanned = e
    return count
  }

  /** Forgets the chunk (its copy is stale once the caller is done with it). */
  release(): void {
    this.held = undefined
  }
}

const load = (): SimdLineEnds | undefined => {
  try {
    // validate is false where the engine lacks SIMD128 (the module uses it).
    const wasm = (globalThis as { readonly WebAssembly?: WasmApi }).WebAssembly
    if (wasm === undefined || !wasm.validate(lineEndsWasm)) return undefined
    const { memory, lines } = new wasm.Instance(new wasm.Module(lineEndsWasm)).exports
    if (!(memory instanceof wasm.Memory) || typeof lines !== "function") return undefined
    return new SimdLineEnds({ memory, lines: lines as LineEndsExports["lines"] })
  } catch {
    return undefined
  }
}

/** The scanner, or undefined without WebAssembly SIMD. */
export const simdLineEnds: SimdLineEnds | undefined = load()
