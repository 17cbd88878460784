/**
 * The sandbox's demo policy, which the tests use too: platform admins do everything, the
 * payments team owns payments_* topics and payments-* groups, analytics reads payments_*
 * with its own analytics-* groups, auditors read the audit topic. Nobody else may do anything.
 */
import { stringify } from 'yaml';
import type { PolicyDocumentInput } from '../policy/schema.js';

export function demoPolicy(auditTopic: string): PolicyDocumentInput {
  return {
    roles: {
      admin: {
        description: 'Platform administrators: everything, cluster-wide (but not the audit topic).',
        members: { groups: ['platform-admins'] },
        rules: [
          { resource: 'cluster', operations: ['All'] },
          { resource: 'topic', name: '*', operations: ['All'] },
          { resource: 'group', name: '*', operations: ['All'] },
          { resource: 'transactionalId', name: '*', operations: ['All'] },
        ],
      },
      'payments-app': {
        description: 'The payments team: full control of its own topics, groups and transactions.',
        members: { groups: ['payments-team'] },
        rules: [
          { resource: 'topic', name: 'payments_*', operations: ['All'] },
          { resource: 'group', name: 'payments-*', operations: ['All'] },
          { resource: 'transactionalId', name: 'payments-*', operations: ['All'] },
        ],
      },
      analytics: {
        description: 'Analytics: reads the payments topics with its own consumer groups.',
        members: { groups: ['analytics'] },
        rules: [
          { resource: 'topic', name: 'payments_*', operations: ['Read', 'Describe'] },
          { resource: 'group', name: 'analytics-*', operations: ['Read', 'Describe'] },
        ],
      },
      auditor: {
        description: 'Auditors: read the audit topic, nothing else.',
        members: { groups: ['auditors'] },
        rules: [
          { resource: 'topic', name: auditTopic, operations: ['Read', 'Describe'] },
          { resource: 'group', name: 'auditors-*', operations: ['Read', 'Describe'] },
        ],
      },
    },
  };
}

export function demoPolicyYaml(auditTopic: string): string {
  return `# Gatehouse sandbox policy: edit and save, the proxy reloads it (see docs/policy.md).\n${stringify(demoPolicy(auditTopic))}`;
}
