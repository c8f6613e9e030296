/**
 * How a client gets into a local Redis shaped like ElastiCache (in-transit encryption with
 * RBAC): TLS only, no plaintext port; the app user with a password and the deployed user's
 * access string (its key prefix and command categories, core/layout/access-string.ts), an
 * admin user for replication, cluster creation and server management; the `default` user
 * switched off, so a client without credentials is refused. Redis:
 * https://redis.io/docs/latest/operate/oss_and_stack/management/security/encryption/ and
 * https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/; ElastiCache:
 * https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RedisOptions } from 'ioredis';
import { appAccessString, redisUserName } from '../../../core/index.ts';
import { localCertificates } from '../tls-certificates.ts';

/** A user name and its password. */
export interface RedisUser {
  readonly username: string;
  readonly password: string;
}

/**
 * How a client gets into a secure server: its CA, and the ACL users. Every node of a cluster has
 * the same users, as every node of an ElastiCache cluster has its user group's users.
 */
export interface RedisAccess extends RedisUser {
  /** The CA certificate (PEM) that signed the server's certificate: what clients must trust. */
  readonly caFile: string;
  /**
   * The app user's ACL rules: the deployed user's access string (`appAccessString()`), so the
   * functions are held to exactly what ElastiCache lets them do.
   */
  readonly accessString: string;
  /**
   * A user that may do anything, for what no function does: replication (`masteruser`), cluster
   * creation and inspection, and the tests' server management (FLUSHALL, KEYS, CONFIG SET, …).
   * A deployment has no such user in its user group; ElastiCache manages the servers itself.
   */
  readonly admin: RedisUser;
}

const ADMIN_USERNAME = `${redisUserName}-admin`;

/** New users, with fresh passwords, for a secure server or cluster. */
export async function newAccess(keyPrefix: string): Promise<RedisAccess> {
  const { caFile } = await localCertificates();
  return {
    caFile,
    username: redisUserName,
    password: randomBytes(24).toString('hex'),
    accessString: appAccessString(keyPrefix),
    admin: { username: ADMIN_USERNAME, password: randomBytes(24).toString('hex') },
  };
}

/**
 * The server arguments and ACL file of a secure server. Clients present no certificate
 * (`tls-auth-clients no`): ElastiCache does not use client certificates, the password is the
 * credential.
 */
export async function secureArgs(
  port: number,
  dir: string,
  access: RedisAccess,
): Promise<string[]> {
  const { certFile, keyFile, caFile } = await localCertificates();
  const aclFile = join(dir, 'users.acl');
  // A user named in an ACL file starts from nothing: `default` here has no password and is off,
  // so no client can be it. https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/#use-an-external-acl-file
  // It keeps every right all the same: Redis 7.0 replays an append-only file as the default
  // user, and its EXEC re-checks that user's rights, so with none every script's effects (stored
  // as MULTI/EXEC) vanish on reload (redis/redis#14541, fixed in #14545; valkey-io/valkey#3983).
  await writeFile(
    aclFile,
    [
      'user default off ~* &* +@all',
      `user ${access.username} ${access.accessString} >${access.password}`,
      `user ${access.admin.username} on >${access.admin.password} ~* &* +@all`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    certFile,
    '--tls-key-file',
    keyFile,
    '--tls-ca-cert-file',
    caFile,
    '--tls-auth-clients',
    'no',
    '--tls-replication',
    'yes',
    // A replica logs in to its master as the admin user (the default user is off there, and
    // replication needs SYNC/PSYNC, which the app user may not run).
    '--masteruser',
    access.admin.username,
    '--masterauth',
    access.admin.password,
    '--aclfile',
    aclFile,
  ];
}

/** ioredis options to manage a server directly (as the admin user when it is secure). */
export function nodeOptions(port: number, access: RedisAccess | undefined): RedisOptions {
  return {
    port,
    host: '127.0.0.1',
    ...(access
      ? {
          tls: { ca: readFileSync(access.caFile) },
          username: access.admin.username,
          password: access.admin.password,
        }
      : {}),
  };
}
