/**
 * The output pipeline: raw bytes → lines (`LineDecoder`) → a job's bounded,
 * numbered history (`RingBuffer`); `CappedOutput` for one-shot `ssh_exec` output.
 *
 * @since 0.1.0
 */
export { CappedOutput } from "./CappedOutput.js"
export { LineDecoder, type LineDecoderOptions, truncationMarker } from "./LineDecoder.js"
export {
  type Line,
  type ReadOptions,
  type ReadResult,
  RingBuffer,
  type RingBufferOptions,
  type RingCounts,
  type StreamName
} from "./RingBuffer.js"
