/**
 * The cold start's floor (bench/cold-start.ts): a handler that does nothing, bundled by the
 * house construct as the functions are (infra/constructs/seqguard-function.ts). What its cold
 * start costs is the emulator, the Node runtime and the runtime client, none of it the code's.
 */
export const handler = async (): Promise<{ ok: true }> => ({ ok: true });
