/**
 * Module hooks (node:module register) that hand Jazzer.js's instrumenting loader plain
 * JavaScript for the project's .ts files. Node's own type stripping happens after every load
 * hook has run, and Jazzer.js instruments only what a hook hands it as format "module": a .ts
 * file arrives as "module-typescript" and would run uninstrumented, invisible to the fuzzer.
 * Registered before Jazzer.js's hooks (`node --import` of typescript-loader.mjs), so this runs
 * first and Jazzer's sees the stripped text. Strip mode only replaces types with blanks: lines
 * and columns stay where they were in the source.
 */
import { stripTypeScriptTypes } from 'node:module';

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (result.format !== 'module-typescript' || result.source === undefined) return result;
  const code =
    typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
  return { ...result, format: 'module', source: stripTypeScriptTypes(code, { mode: 'strip' }) };
}
