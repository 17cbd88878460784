/** A tagged field the codec does not know (or that a newer peer sent), kept as its raw bytes. */
export interface TaggedField {
  tag: number;
  data: Buffer;
}
