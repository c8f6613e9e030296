/** A Lambda handler for sandbox tests: echoes its event, or throws, or hangs, as asked. */
export async function handler(event: { action?: 'throw' | 'hang' | 'exit'; value?: unknown }) {
  if (event.action === 'throw') throw new TypeError('asked to throw');
  if (event.action === 'hang') await new Promise(() => {});
  if (event.action === 'exit') process.exit(3);
  return { echoed: event.value ?? null, pid: process.pid };
}
