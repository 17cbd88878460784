/**
 * Codec packages are native add-ons: they are loaded on first use, not when this module is
 * imported, so a process that never meets (say) a zstd batch runs without the package, and one
 * that does gets an error naming the codec and the package.
 */
import { createRequire } from 'node:module';
import { CodecError } from './errors.js';

const require = createRequire(import.meta.url);

/** A getter that loads `pkg` (a CommonJS package) on its first call; the module or the failure is kept. */
export function lazyPackage<T>(pkg: string, codec: string): () => T {
  let loaded: { module: T } | { error: CodecError } | undefined;
  return () => {
    if (!loaded) {
      try {
        loaded = { module: require(pkg) as T };
      } catch (err) {
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        loaded = { error: new CodecError('GH_CODEC_UNAVAILABLE', `${codec} codec: the package ${pkg} could not be loaded (${why}); npm ci installs it`, { cause: err }) };
      }
    }
    if ('error' in loaded) throw loaded.error;
    return loaded.module;
  };
}
