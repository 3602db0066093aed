import { parseGrantee, parseResource, serviceDefinition } from '@tributary/proto';
import { describe, expect, it } from 'vitest';
import { ADMIN_ACCESS } from '../../coordinator/src/api/admin-access.js';
import { Permissions } from '../../coordinator/src/auth/grants.js';
import type { GrantRecord } from '../../coordinator/src/state/index.js';

const grant = (privilege: GrantRecord['privilege'], federation: string, granteeKind: GrantRecord['granteeKind'], granteeName: string): GrantRecord => ({
  privilege,
  federation,
  granteeKind,
  granteeName,
  grantedBy: 'owner',
  grantedAtMs: 1,
});

describe('AdminService privileges', () => {
  it('declares the privilege every method of the service definition needs, and no other', () => {
    expect(Object.keys(ADMIN_ACCESS).sort()).toEqual(Object.keys(serviceDefinition('AdminService')).sort());
  });

  it('asks only for read, operate or admin', () => {
    for (const rule of Object.values(ADMIN_ACCESS)) expect(['read', 'operate', 'admin']).toContain(rule.needs);
  });
});

describe('Permissions', () => {
  const alice = { name: 'alice', groups: ['ml-team'], owner: false };

  it('lets admin imply operate and operate imply read', () => {
    const p = Permissions.of(alice, [grant('operate', 'churn', 'principal', 'alice')]);
    expect([p.can('read', 'churn'), p.can('operate', 'churn'), p.can('admin', 'churn')]).toEqual([true, true, false]);
  });

  it('applies a grant on federation:* to every federation, and one on a federation to it alone', () => {
    const p = Permissions.of(alice, [grant('read', '*', 'principal', 'alice'), grant('admin', 'churn', 'principal', 'alice')]);
    expect([p.can('read', 'fraud'), p.can('admin', 'churn'), p.can('admin', 'fraud'), p.can('admin', '*')]).toEqual([true, true, false, false]);
  });

  it("counts the grants of the principal's groups, and not those of other principals or groups", () => {
    const p = Permissions.of(alice, [grant('operate', 'churn', 'group', 'ml-team'), grant('admin', 'churn', 'group', 'finance'), grant('admin', 'fraud', 'principal', 'bob')]);
    expect([p.can('operate', 'churn'), p.can('admin', 'churn'), p.canAnywhere('admin')]).toEqual([true, false, false]);
  });

  it('gives owners admin on every federation', () => {
    expect(Permissions.of({ name: 'owner', groups: [], owner: true }, []).can('admin', '*')).toBe(true);
  });

  it('refuses with the privilege and the resource that were lacking', () => {
    const p = Permissions.of(alice, [grant('read', 'churn', 'principal', 'alice')]);
    expect(() => p.require('operate', ['churn'])).toThrow('principal "alice" needs operate on federation:churn');
  });
});

describe('grant syntax', () => {
  it('reads federation:<name> and federation:*, and refuses anything else', () => {
    expect(parseResource('federation:churn')).toBe('churn');
    expect(parseResource('federation:*')).toBe('*');
    expect(() => parseResource('churn')).toThrow(/federation:<name> or federation:\*/);
    expect(() => parseResource('federation:Bad Name')).toThrow(/invalid federation name/);
  });

  it('reads principal:<name> and group:<name>, and refuses anything else', () => {
    expect(parseGrantee('group:ml-team')).toEqual({ kind: 'group', name: 'ml-team' });
    expect(parseGrantee('principal:alice')).toEqual({ kind: 'principal', name: 'alice' });
    expect(() => parseGrantee('user:alice')).toThrow(/principal:<name> or group:<name>/);
  });
});
