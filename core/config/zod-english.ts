/**
 * English messages for the zod schemas the core parses: the functions' configuration, the alarm
 * thresholds and replay requests. The core's schemas use zod/mini, the tree-shakable build, to
 * keep the Lambda bundles small; unlike zod's classic build it loads no locale, and its issues
 * would all say "Invalid input". Each parse passes these options instead of configuring zod
 * globally, so the messages neither depend on nor change the zod configuration of the process
 * the core runs in.
 */
import { en } from 'zod/locales';

/** Parse options: `schema.safeParse(value, inEnglish)`. */
export const inEnglish = { error: en().localeError } as const;
