// Ambient types for the parts of `buffer-layout` (CommonJS, untyped) that the
// wire headers use. Node's ESM loader exposes its named exports, so
// `import * as BufferLayout from "buffer-layout"` works at run time.
// decode/encode need a Node Buffer (the library calls readUIntBE & co).

declare module "buffer-layout" {
  export class Layout<T = any> {
    span: number;
    property?: string;
    decode(b: Uint8Array, offset?: number): T;
    encode(src: T, b: Uint8Array, offset?: number): number;
    getSpan(b?: Uint8Array, offset?: number): number;
  }
  export class Structure<T = any> extends Layout<T> {
    fields: Layout[];
    offsetOf(property: string): number | undefined;
    layoutFor(property: string): Layout | undefined;
  }
  export class BitField {
    property: string;
    bits: number;
    start: number;
    wordMask: number;
    valueMask: number;
  }
  export class BitStructure<T = any> extends Layout<T> {
    fields: BitField[];
    msb: boolean;
    addField(bits: number, property: string): BitField;
    addBoolean(property: string): BitField;
    fieldFor(property: string): BitField | undefined;
  }
  export class Blob extends Layout<Uint8Array> {
    length: number;
  }
  export function u8(property?: string): Layout<number>;
  export function u16be(property?: string): Layout<number>;
  export function u24be(property?: string): Layout<number>;
  export function u32be(property?: string): Layout<number>;
  export function blob(length: number, property?: string): Blob;
  export function struct<T = any>(fields: Layout[], property?: string, decodePrefixes?: boolean): Structure<T>;
  export function bits<T = any>(word: Layout<number>, msb?: boolean, property?: string): BitStructure<T>;
}
