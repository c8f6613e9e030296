/** Registers typescript-hooks.mjs: `node --import` this before Jazzer.js's CLI. */
import { register } from 'node:module';

register('./typescript-hooks.mjs', import.meta.url);
