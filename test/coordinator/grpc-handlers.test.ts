import { describe, expect, it } from 'vitest';
import { packageDefinition } from '@tributary/proto';
import { adminService, type AdminServiceDeps } from '../../coordinator/src/api/admin-service.js';
import { siteService, type SiteServiceDeps } from '../../coordinator/src/api/site-service.js';

/** Services of tributary.proto and their method names, read from the loaded definition. */
function protoServices(): Map<string, string[]> {
  const services = new Map<string, string[]>();
  for (const [fullName, def] of Object.entries(packageDefinition())) {
    const methods = Object.entries(def as object);
    const isService = methods.length > 0 && methods.every(([, m]) => typeof (m as { path?: unknown }).path === 'string');
    if (!isService) continue;
    services.set(fullName.replace(/^tributary\.v1\./, ''), methods.map(([name]) => name));
  }
  return services;
}

// Building the maps only closes over the dependencies; no handler runs here.
const handlerMaps: Record<string, object> = {
  SiteService: siteService({} as SiteServiceDeps),
  AdminService: adminService({} as AdminServiceDeps),
};

describe('gRPC handler maps', () => {
  it('cover every service of tributary.proto', () => {
    expect([...protoServices().keys()].sort()).toEqual(Object.keys(handlerMaps).sort());
  });

  for (const [service, methods] of protoServices()) {
    it(`give every ${service} method a handler, and nothing else`, () => {
      const handlers = handlerMaps[service] ?? {};
      for (const method of methods) {
        expect(typeof (handlers as Record<string, unknown>)[method], `${service}/${method}`).toBe('function');
      }
      expect(Object.keys(handlers).sort()).toEqual([...methods].sort());
    });
  }
});
