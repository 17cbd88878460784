/**
 * Kafka Java client properties for SASL/OAUTHBEARER with the OIDC client-credentials login
 * (KIP-768): what the sandbox writes for its demo clients and what the tests give Kafka's tools.
 */
export function oidcClientProperties(tokenEndpoint: string, clientId: string, clientSecret: string, securityProtocol: 'SASL_PLAINTEXT' | 'SASL_SSL' = 'SASL_PLAINTEXT'): string[] {
  return [
    `security.protocol=${securityProtocol}`,
    'sasl.mechanism=OAUTHBEARER',
    'sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler',
    `sasl.oauthbearer.token.endpoint.url=${tokenEndpoint}`,
    `sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="${clientId}" clientSecret="${clientSecret}";`,
  ];
}
