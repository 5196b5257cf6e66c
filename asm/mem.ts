// mem: a bump allocator over linear memory, for code that never creates GC objects (`--runtime stub`).
//
// Memory layout (byte addresses, every block 16-byte aligned):
//
//   0 .. __heap_base            static data written by the compiler (no runtime objects are ever allocated)
//   __heap_base .. mark         persistent blocks (e.g. the tokenizer's vocab and hash table)
//   mark .. top                 scratch blocks of the current call, dropped by `scratchReset()`
//   top .. memory.size() << 16  free; `bumpAlloc` grows memory by whole 64 KiB pages when needed
//
// Growing memory detaches the JS side's ArrayBuffer: callers re-create their typed views after every call.

const BASE: usize = (__heap_base + 15) & ~(<usize>15);
let top: usize = BASE;
let mark: usize = BASE;

/** Returns a 16-byte-aligned block of `size` bytes (contents unspecified), or 0 when memory cannot grow. */
export function bumpAlloc(size: usize): usize {
  const ptr = top;
  const end = (ptr + size + 15) & ~(<usize>15);
  if (end < ptr) return 0; // overflow
  const have = (<usize>memory.size()) << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >>> 16);
    if (memory.grow(pages) < 0) return 0;
  }
  top = end;
  return ptr;
}

/** Drops every block, persistent ones included. */
export function bumpResetAll(): void {
  top = BASE;
  mark = BASE;
}

/** Makes everything allocated so far persistent: `scratchReset` will keep it. */
export function bumpMarkPersistent(): void {
  mark = top;
}

/** Drops the scratch blocks allocated since the last `bumpMarkPersistent`. */
export function scratchReset(): void {
  top = mark;
}
