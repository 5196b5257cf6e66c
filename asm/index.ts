// asm: the wasm surface (re-exports only). Built by scripts/gen.mjs into src/gen/asm.ts.
export function version(): i32 { return 1; }
