/**
 * Client certificates as identities (`identity.mtls`): a connection on the TLS listener set whose
 * client certificate verified against `listen.tls.caFile` is authenticated by it, without SASL.
 * The principal is the subject's CN (or the whole subject), its groups the OU (or O) values.
 */
import type { MtlsIdentityConfig } from '../config/schema.js';
import type { TlsInfo } from '../stage/connection-info.js';
import type { Principal } from './principal.js';
import { MTLS_SOURCE, principalName, qualifiedName } from './sources.js';

/** RFC 2253 attribute values of a subject string like "CN=app,OU=a,OU=b,O=Example" (escaped commas respected). */
function values(subject: string, attribute: string): string[] {
  const out: string[] = [];
  for (const part of subject.split(/(?<!\\),/)) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim().toUpperCase() === attribute) out.push(part.slice(i + 1).replace(/\\(.)/g, '$1'));
  }
  return out;
}

/**
 * The principal a verified client certificate stands for, or a reason it stands for none. With
 * `qualify` (several identity sources), its name is `mtls:<name>`.
 */
export function principalFromCertificate(tls: TlsInfo, config: MtlsIdentityConfig, now: number, qualify = false): Principal | string {
  const subject = tls.peerSubject;
  if (!subject) return 'no verified client certificate';
  let name: string | undefined;
  if (config.principalFrom === 'subject') name = subject;
  else name = values(subject, 'CN')[0];
  if (!name) return `client certificate subject ${JSON.stringify(subject)} has no CN`;
  const groups = config.groupsFrom === 'none' ? [] : values(subject, config.groupsFrom);
  return {
    name: principalName(MTLS_SOURCE, name, qualify),
    source: MTLS_SOURCE,
    qualifiedName: qualifiedName(MTLS_SOURCE, name),
    groups,
    issuer: tls.peerIssuer ?? '',
    clientId: undefined,
    mechanism: 'MTLS',
    expiresAt: tls.peerValidTo ?? Infinity,
    authenticatedAt: now,
    claims: { subject, issuer: tls.peerIssuer, serial: tls.peerSerial, fingerprint: tls.peerCertFingerprint },
  };
}
