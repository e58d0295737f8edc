/** The built server every test runs, as users run it. */
import { fileURLToPath } from "node:url"

export const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url))
