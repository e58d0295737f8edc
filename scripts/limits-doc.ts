/**
 * `npm run docs:limits`: the limits table of docs/CONFIG.md, from `limitSpecs`
 * (src/domain/limits.ts). A unit test fails when the doc is out of date.
 */
import { fileURLToPath } from "node:url"
import { limitTable } from "../src/domain/limits.ts"
import { writeBetweenMarkers } from "./markers.ts"

writeBetweenMarkers(fileURLToPath(new URL("../docs/CONFIG.md", import.meta.url)), "limits", limitTable())
