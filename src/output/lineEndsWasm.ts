/**
 * The bytes of lineEnds.wat (the SIMD `\n` scan), assembled by `node scripts/wasm.ts`:
 * generated, do not edit (test/unit/output/lineEndsWasm.test.ts checks they match the `.wat`).
 *
 * @since 0.1.0
 */
export const lineEndsWasm: Uint8Array = Buffer.from(
  "AGFzbQEAAAABCgFgBX9/f39/AX8DAgEABQMBAAIHEgIGbWVtb3J5AgAFbGluZXMAAArIAQHFAQIGfwF7IAAhBSAAIQZBwAAh" +
  "CUHAACADQQJ0aiEKQQr9DyELAkADQCAGIAFPDQEgBv0ABAAgC/0j/WQhByABIAZrQRBJBEAgB0EBIAEgBmt0QQFrcSEHCwJA" +
  "A0AgB0UNASAGIAdoaiEIIAggBWsgAksNAyAJIApGDQMgCEEBaiEFIAkgBSAEajYCACAJQQRqIQkgByAHQQFrcSEHDAALCyAG" +
  "QRBqIQYgBiAFayACSw0BDAALC0EAIAU2AgAgCUHAAGtBAnYL",
  "base64"
)
