import { describe, expect, it } from "vitest"
import { looksLikePrompt } from "../../../src/jobs/prompt.js"

describe("looksLikePrompt", () => {
  const prompts = [
    "Password: ",
    "[sudo] password for deploy: ",
    "Enter passphrase for key '/home/u/.ssh/id_ed25519': ",
    "Enter file in which to save the key (/root/.ssh/id_ed25519): ",
    "Overwrite (y/n)? ",
    "Do you want to continue? [Y/n] ",
    "Continue? [y/N] ",
    "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
    "Username for 'https://github.com': ",
    "Password for 'https://user@github.com': ",
    ">>> ",
    "Name: ",
    "Select an option [1-3]: ",
    "mysql> ",
    "Proceed ([y]/n)? "
  ]
  const notPrompts = [
    "",
    "   ",
    "Downloading: 45% |#########           | 4.5M/10M",
    "[=====>                ] 25%",
    "  3%",
    "Progress: 12.5%",
    "Building modules",
    "compiling foo.c",
    "x".repeat(600) + ":"
  ]
  for (const p of prompts) it(`prompt: ${JSON.stringify(p)}`, () => expect(looksLikePrompt(p)).toBe(true))
  for (const p of notPrompts) it(`not a prompt: ${JSON.stringify(p.slice(0, 60))}`, () => expect(looksLikePrompt(p)).toBe(false))
})
