/** A handler module whose cold start fails, as a bad import or configuration would. */
console.error('broken-handler: about to fail at import');
throw new TypeError('broken at import');
