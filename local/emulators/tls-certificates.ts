/**
 * The local runtime's certificate authority and the server certificate it signs, made once per
 * cache with openssl into `.cache/tls/` (git-ignored) and reused by every server the runtime
 * starts on this machine. The server certificate names `127.0.0.1` and `localhost` (subject
 * alternative names, which is what Node checks: RFC 6125 via `tls.checkServerIdentity`), so
 * clients verify it fully, as they verify ElastiCache's: nobody turns verification off.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { LocalRuntimeError, MissingPrerequisiteError } from './errors.ts';

const execFileAsync = promisify(execFile);

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const TLS_DIR = join(REPO_ROOT, '.cache', 'tls');
/** A new name when what the files hold changes, so an old cache is not reused by mistake. */
const CERTIFICATES_DIR = join(TLS_DIR, 'local-ca-v1');

export interface LocalCertificates {
  /** The CA certificate (PEM): what a client must trust. */
  readonly caFile: string;
  /** The server certificate (PEM), signed by the CA, for 127.0.0.1 and localhost. */
  readonly certFile: string;
  /** The server certificate's private key (PEM, unencrypted). */
  readonly keyFile: string;
}

function inside(dir: string): LocalCertificates {
  return {
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
  };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new MissingPrerequisiteError(
        'openssl is not on PATH; install it with: apt-get install openssl',
        { cause: error },
      );
    throw new LocalRuntimeError(
      `openssl ${args[0]} failed: ${(error as { stderr?: string }).stderr ?? ''}`,
      { cause: error },
    );
  }
}

async function generate(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
    '-days',
    '3650',
    '-subj',
    '/CN=seqguard local CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl([
    'req',
    ...ec,
    '-keyout',
    join(dir, 'server.key'),
    '-out',
    join(dir, 'server.csr'),
    '-subj',
    '/CN=localhost',
  ]);
  // clientAuth too: a Redis node presents this certificate when it connects to another node
  // (cluster bus, replication over TLS).
  await writeFile(
    join(dir, 'server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      '',
    ].join('\n'),
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    join(dir, 'server.csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '3650',
    '-extfile',
    join(dir, 'server.ext'),
    '-out',
    join(dir, 'server.crt'),
  ]);
}

/** The CA and server certificate in `.cache/tls/`, made the first time they are asked for. */
export async function localCertificates(): Promise<LocalCertificates> {
  const wanted = inside(CERTIFICATES_DIR);
  const exists = await access(wanted.certFile).then(
    () => true,
    () => false,
  );
  if (exists) return wanted;
  await mkdir(TLS_DIR, { recursive: true });
  // Made aside and renamed into place in one step: servers that start together (the test
  // setup starts several) either find the whole set or make their own and keep the first.
  const staging = await mkdtemp(join(TLS_DIR, 'staging-'));
  try {
    await generate(staging);
    await rename(staging, CERTIFICATES_DIR).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return wanted;
}
