/**
 * A throwaway certificate authority for the sandbox and the tests: a CA and certificates it
 * issues (server certificates with host names / IP addresses, client certificates with a subject),
 * as PEM files, made with the `openssl` command line tool (EC P-256 keys, unencrypted PKCS#8, which
 * Node, librdkafka and Kafka's PEM key stores all read). Never for production.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

export interface IssueOptions {
  /** File name stem: `<name>.pem` and `<name>.key`. */
  name: string;
  /** Subject, e.g. "/O=Example/OU=payments/CN=payments-app". */
  subject: string;
  /** subjectAltName DNS names (server certificates). */
  dns?: string[];
  /** subjectAltName IP addresses (server certificates). */
  ips?: string[];
  /** Validity in days (default 30). */
  days?: number;
}

export interface CertificateAuthority extends CertFiles {
  dir: string;
  issue(opts: IssueOptions): Promise<CertFiles>;
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the openssl command is not installed' : `${err.message.split('\n')[0]}\n${stderr}`;
      reject(new Error(`openssl ${args[0]} failed: ${why}`));
    });
  });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Creates a CA (`ca.pem`, `ca.key`) in `dir`. */
export async function createCertificateAuthority(dir: string, subject = '/O=Gatehouse/CN=Gatehouse sandbox CA'): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true });
  const ca: CertFiles = { certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key') };
  await openssl([
    'req', '-x509', ...EC_KEY, '-keyout', ca.keyFile, '-out', ca.certFile, '-days', '365', '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return {
    ...ca,
    dir,
    issue: async (opts: IssueOptions): Promise<CertFiles> => {
      const out: CertFiles = { certFile: join(dir, `${opts.name}.pem`), keyFile: join(dir, `${opts.name}.key`) };
      const csr = join(dir, `${opts.name}.csr`);
      const ext = join(dir, `${opts.name}.ext`);
      const san = [...(opts.dns ?? []).map((d) => `DNS:${d}`), ...(opts.ips ?? []).map((ip) => `IP:${ip}`)];
      await writeFile(ext, [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        ...(san.length ? [`subjectAltName=${san.join(',')}`] : []),
        '',
      ].join('\n'));
      await openssl(['req', '-new', ...EC_KEY, '-keyout', out.keyFile, '-out', csr, '-subj', opts.subject]);
      await openssl([
        'x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${randomBytes(12).toString('hex')}`,
        '-days', String(opts.days ?? 30), '-extfile', ext, '-out', out.certFile,
      ]);
      return out;
    },
  };
}
