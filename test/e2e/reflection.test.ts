import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { methodPath, signCall } from '@tributary/proto';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

// The reflection protocol as generic tools (grpcurl, Postman) speak it.
const require = createRequire(import.meta.url);
const reflectionProto = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');

interface ReflectionResponse {
  listServicesResponse?: { service: Array<{ name: string }> };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
}

function ask(address: string, request: object): Promise<ReflectionResponse> {
  const definition = protoLoader.loadSync(reflectionProto, { keepCase: false, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (address: string, creds: grpc.ChannelCredentials) => grpc.Client & { serverReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> } } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.serverReflectionInfo();
    call.on('data', (r: ReflectionResponse) => {
      resolve(r);
      call.end();
      client.close();
    });
    call.on('error', reject);
    call.write(request);
  });
}

describe('gRPC server reflection', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('lists SiteService and AdminService for generic gRPC tools', async () => {
    const answer = await ask(stack.coordinator.address, { listServices: '' });
    const names = answer.listServicesResponse?.service.map((s) => s.name) ?? [];
    expect(names).toEqual(expect.arrayContaining(['tributary.v1.SiteService', 'tributary.v1.AdminService']));
  });

  it('describes the services so a tool can build requests', async () => {
    const answer = await ask(stack.coordinator.address, { fileContainingSymbol: 'tributary.v1.AdminService' });
    const files = answer.fileDescriptorResponse?.fileDescriptorProto ?? [];
    expect(files.length).toBeGreaterThan(0);
    expect(Buffer.concat(files).toString('latin1')).toContain('StartRun');
  });

  it('serves the real descriptor of tributary.proto: snake_case fields and proper map entries', async () => {
    const answer = await ask(stack.coordinator.address, { fileContainingSymbol: 'tributary.v1.SiteService' });
    const [bytes] = answer.fileDescriptorResponse?.fileDescriptorProto ?? [];
    const file = descriptor.FileDescriptorProto.decode(bytes ?? Buffer.alloc(0)) as unknown as {
      name: string;
      messageType: Array<{ name: string; field: Array<{ name: string; typeName?: string }>; nestedType: Array<{ name: string; options?: { mapEntry?: boolean } }> }>;
    };
    expect(file.name).toBe('tributary.proto');
    const settings = file.messageType.find((m) => m.name === 'FederationSettings');
    expect(settings?.field.map((f) => f.name)).toContain('strategy_options');
    expect(settings?.field.find((f) => f.name === 'strategy_options')?.typeName).toBe('.tributary.v1.FederationSettings.StrategyOptionsEntry');
    expect(settings?.nestedType).toEqual([expect.objectContaining({ name: 'StrategyOptionsEntry', options: expect.objectContaining({ mapEntry: true }) })]);
  });

  it('lets a client that knows only reflection call WhoAmI', async () => {
    const services = (await ask(stack.coordinator.address, { listServices: '' })).listServicesResponse?.service.map((s) => s.name) ?? [];
    expect(services).toContain('tributary.v1.SiteService');
    const answer = await ask(stack.coordinator.address, { fileContainingSymbol: 'tributary.v1.SiteService' });
    const set = { file: (answer.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) => descriptor.FileDescriptorProto.decode(b)) };
    const root = (protobuf.Root as unknown as { fromDescriptor(set: object): protobuf.Root }).fromDescriptor(set);
    const service = root.lookupService('tributary.v1.SiteService');
    const method = service.methods['WhoAmI'];
    if (!method) throw new Error('WhoAmI is not in the reflected service');
    const requestType = root.lookupType(method.requestType);
    const responseType = root.lookupType(method.responseType);
    const body = Buffer.from(requestType.encode(requestType.create({})).finish());
    const path = methodPath('SiteService', 'WhoAmI');
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(signCall(stack.adminKey, path, body))) metadata.set(k, v);
    const client = new grpc.Client(stack.coordinator.address, grpc.credentials.createInsecure());
    const reply = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, metadata, (err, value) => (err || !value ? reject(err ?? new Error('no reply')) : resolve(value))),
    ).finally(() => client.close());
    const decoded = responseType.toObject(responseType.decode(reply)) as Record<string, unknown>;
    expect(decoded).toMatchObject({ role: 'admin', key_id: stack.adminKey.keyId });
  });
});
