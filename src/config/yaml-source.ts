/**
 * YAML text → a value, plus a way to say where a key path sits in the file, so validation
 * errors name the line as well as the key ("policy.yaml:12: roles.admin.rules.0.operations: ...").
 */
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';

export interface YamlSource {
  readonly value: unknown;
  /** 1-based line of the node at `path` (or of its nearest existing parent); undefined if unknown. */
  lineOf(path: ReadonlyArray<string | number>, key?: string): number | undefined;
}

export class YamlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
  ) {
    super(message);
    this.name = 'YamlSyntaxError';
  }
}

export function parseYamlSource(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.pos ? lineCounter.linePos(e.pos[0]).line : undefined;
    throw new YamlSyntaxError(e.message.split('\n')[0]!, line);
  }
  const lineAt = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  return {
    value: doc.toJS(),
    lineOf(path, key) {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (!node || typeof node !== 'object') continue;
        if (n === path.length && key !== undefined && isMap(node)) {
          const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
          if (pair && isScalar(pair.key)) return lineAt(pair.key.range?.[0]);
        }
        if (n === path.length && n > 0) {
          // Prefer the key's line over the value's (a map value starts on the next line).
          const parent = doc.getIn(path.slice(0, n - 1), true);
          if (isMap(parent)) {
            const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === path[n - 1]);
            if (pair && isScalar(pair.key)) return lineAt(pair.key.range?.[0]);
          }
        }
        return lineAt(node.range?.[0]);
      }
      return undefined;
    },
  };
}
