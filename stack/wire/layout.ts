// Helpers that turn a `buffer-layout` header declaration into the plain offsets,
// shifts and masks the hand-written hot-path accessors use. The layout stays the
// one source of truth for where each field sits (docs/architecture.md "One source of
// truth per fact"); test/wire/layout.test.ts checks the accessors against Layout.decode.

import type { BitStructure, Structure } from "buffer-layout";

/** Byte offset of a named field in a structure; a missing name is a bug. */
export function fieldOffset(layout: Structure, property: string): number {
  const off = layout.offsetOf(property);
  if (off === undefined) throw new Error(`layout has no field ${property}`);
  return off;
}

/** Shift and (unshifted) mask of a named bit field inside its containing word. */
export function bitField(word: BitStructure, property: string): { shift: number; mask: number } {
  const f = word.fieldFor(property);
  if (!f) throw new Error(`bit structure has no field ${property}`);
  return { shift: f.start, mask: 2 ** f.bits - 1 };
}
