/**
 * The module Jazzer.js's CLI loads (it takes .js/.mjs/.cjs only): the target named by
 * SEQGUARD_FUZZ_TARGET (tools/fuzz/targets/<name>.ts), whose `fuzz` it calls with each input.
 */
const target = await import(`./targets/${process.env.SEQGUARD_FUZZ_TARGET}.ts`);
export const fuzz = target.fuzz;
