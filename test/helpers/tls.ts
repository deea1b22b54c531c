/**
 * Throwaway certificates for TLS tests, made with the `openssl` CLI in a temp dir: a private CA, a
 * server certificate it signed for 127.0.0.1/localhost, a second unrelated CA, and a server
 * certificate for another host name.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

export interface TestCerts {
  dir: string;
  /** PEM paths. */
  caFile: string;
  otherCaFile: string;
  /** Server key and certificate (signed by caFile) for IP 127.0.0.1 and DNS localhost. */
  key: string;
  cert: string;
  /** Server key and certificate (signed by caFile) for "elsewhere.example" only. */
  wrongHostKey: string;
  wrongHostCert: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'rc-tls-'));
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ca = (name: string, cn: string) =>
    openssl(
      'req',
      '-x509',
      ...EC,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.pem`),
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  const server = (name: string, san: string) => {
    writeFileSync(
      f(`${name}.ext`),
      `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
    );
    openssl('req', ...EC, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    openssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${name}.pem`),
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
    );
  };
  ca('ca', 'retention-cleanup test CA');
  ca('other-ca', 'unrelated test CA');
  server('server', 'IP:127.0.0.1,DNS:localhost');
  server('wrong-host', 'DNS:elsewhere.example');
  const read = (name: string) => readFileSync(f(name), 'utf8');
  return {
    dir,
    caFile: f('ca.pem'),
    otherCaFile: f('other-ca.pem'),
    key: read('server.key'),
    cert: read('server.pem'),
    wrongHostKey: read('wrong-host.key'),
    wrongHostCert: read('wrong-host.pem'),
  };
}
