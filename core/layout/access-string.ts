/**
 * The Redis ACL user the functions connect as, and what it may do: one home for the deployed
 * ElastiCache RBAC user (infra/constructs/redis-cache.ts) and the local runtime's secure Redis
 * (local/emulators/redis/access.ts), so that every local run and test proves the functions work
 * under the very access string AWS enforces.
 */
import { keyPatterns } from './keys.ts';

/** The RBAC user the functions connect as. */
export const redisUserName = 'seqguard';

/**
 * A key prefix that stands for every prefix: `keyPatterns('*')` is `{*:*` and `{*~*`, which
 * cover the keys of any prefix and nothing else (every key the project builds starts with `{`
 * and has a `:` or `~` after its prefix). For a local server shared by test files that each use a
 * random prefix; the command restrictions stay exactly those of a deployment.
 */
export const anyKeyPrefix = '*';

/**
 * What the functions' user may do: only the deployment's keys, and only the command categories
 * the functions use: reads and writes of strings, hashes, sorted sets, sets and streams, Lua
 * scripts (EVALSHA, and what the scripts call: TIME too), MULTI/EXEC (the rebuild writes each
 * batch of its fresh key with its safety TTL in one transaction: @transaction, "WATCH / MULTI /
 * EXEC related commands", https://redis.io/commands/exec lists EXEC's categories as @slow and
 * @transaction), the connection handshake (WAIT is in @connection too), INFO and CLUSTER
 * INFO/SLOTS/SHARDS (ioredis' ready check and slot map).
 * `-@dangerous` takes back what those categories hold that no function needs (FLUSHALL, KEYS,
 * SORT, MIGRATE, RESTORE, …), and the rules after it what @scripting holds beyond running
 * scripts (ioredis sends a script's text with EVAL once per connection, then EVALSHA): SCRIPT
 * FLUSH, KILL and DEBUG, and Redis functions (FUNCTION LOAD would keep code in the server, in its
 * snapshots and on its replicas; FCALL would run it). A rule
 * `-<command>|<subcommand>` takes back one subcommand (Redis ACL, "Allow/block subcommands":
 * https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/#allowblock-subcommands).
 * Access string syntax: ElastiCache guide, "Role-Based Access Control (RBAC)", "Specifying
 * Permissions Using an Access String"
 * (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html); the categories
 * and their commands: https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/#command-categories
 */
export function appAccessString(keyPrefix: string): string {
  return [
    'on',
    ...keyPatterns(keyPrefix).map((pattern) => `~${pattern}`),
    '-@all',
    '+@read',
    '+@write',
    '+@scripting',
    '+@transaction',
    '+@connection',
    '-@dangerous',
    '-script|flush',
    '-script|kill',
    '-script|debug',
    '-function',
    '-fcall',
    '-fcall_ro',
    '+info',
    '+time',
    '+cluster|info',
    '+cluster|slots',
    '+cluster|shards',
  ].join(' ');
}
