/**
 * The broker-credential APIs and what the configuration allows of them. Through the proxy these
 * act with the proxy's own broker identity: a delegation token made through it is the proxy's
 * token, DescribeDelegationToken shows every token that identity can see (HMACs included), and
 * AlterUserScramCredentials can reset any SCRAM account, the proxy's own among them. Each hands
 * out direct broker access that skips policy and audit, so they are off unless the
 * configuration turns them on (`policy.brokerCredentialApis`), whatever a policy grants.
 */
import type { GatehouseConfig } from '../config/schema.js';

export interface CredentialApis {
  /** CreateDelegationToken, RenewDelegationToken, ExpireDelegationToken, DescribeDelegationToken. */
  readonly delegationTokens: boolean;
  /** DescribeUserScramCredentials, AlterUserScramCredentials. */
  readonly scramCredentials: boolean;
  /** SCRAM users no request may alter or delete: the proxy's own upstream account. */
  readonly protectedUsers: readonly string[];
}

/** Everything off (the default), no account named. */
export const CREDENTIAL_APIS_OFF: CredentialApis = Object.freeze({ delegationTokens: false, scramCredentials: false, protectedUsers: Object.freeze([]) as readonly string[] });

/** The switches from `policy.brokerCredentialApis`, and the proxy's upstream SASL user as the protected account. */
export function credentialApisFromConfig(config: GatehouseConfig): CredentialApis {
  const apis = config.policy?.brokerCredentialApis;
  const sasl = config.upstream.sasl;
  return {
    delegationTokens: apis?.delegationTokens ?? false,
    scramCredentials: apis?.scramCredentials ?? false,
    protectedUsers: sasl && sasl.mechanism !== 'OAUTHBEARER' ? [sasl.username] : [],
  };
}
