/**
 * Builds the live job view into one self-contained HTML file (scripts and styles
 * inlined by vite-plugin-singlefile): dist/mcp/apps/view/index.html, which
 * src/mcp/apps/jobView.ts serves as the `ui://ssh/job` resource.
 */
import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"
import { viteSingleFile } from "vite-plugin-singlefile"

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  logLevel: "warn",
  plugins: [viteSingleFile()],
  build: {
    outDir: fileURLToPath(new URL("../../../../dist/mcp/apps/view", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: false
  }
})
