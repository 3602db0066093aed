import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { PROTO_PATH } from './schema.js';

/** The name the descriptor of tributary.proto is served under, as protoc would name it. */
export const PROTO_FILE_NAME = 'tributary.proto';

// The parts of descriptor.proto's messages this module touches (protobufjs message objects).
interface FieldProto {
  name: string;
  typeName?: string;
  jsonName?: string;
}
interface MessageProto {
  name: string;
  field: FieldProto[];
  nestedType: MessageProto[];
  enumType: Array<{ name: string }>;
  options?: { mapEntry?: boolean } | null;
}
interface FileProto {
  name: string;
  package: string;
  messageType: MessageProto[];
  enumType: Array<{ name: string }>;
  service: Array<{ method: Array<{ inputType?: string; outputType?: string }> }>;
}

let cached: Buffer | undefined;

/**
 * The FileDescriptorProto of tributary.proto, encoded, as protoc would produce it: file
 * `tributary.proto`, field names as written (snake_case) with their JSON names, map entries
 * named `<Field>Entry` with `map_entry` set, and every type reference fully qualified. Server
 * reflection serves it, so generic tools (grpcurl, Python's protobuf) can build requests.
 */
export function tributaryFileDescriptor(): Buffer {
  if (cached === undefined) {
    const root = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true });
    root.resolveAll();
    const set = (root as unknown as { toDescriptor(syntax: string): { file: FileProto[] } }).toDescriptor('proto3');
    const file = set.file[0];
    if (set.file.length !== 1 || file === undefined) throw new Error(`${PROTO_PATH} should make exactly one descriptor file`);
    file.name = PROTO_FILE_NAME;
    const types = new Set<string>();
    const scope = `.${file.package}`;
    for (const m of file.messageType) nameMapEntries(m);
    for (const m of file.messageType) collectTypes(m, scope, types);
    for (const e of file.enumType) types.add(`${scope}.${e.name}`);
    for (const m of file.messageType) qualifyFields(m, `${scope}.${m.name}`, types);
    for (const s of file.service) {
      for (const method of s.method) {
        if (method.inputType !== undefined) method.inputType = qualify(method.inputType, scope, types);
        if (method.outputType !== undefined) method.outputType = qualify(method.outputType, scope, types);
      }
    }
    cached = Buffer.from(descriptor.FileDescriptorProto.encode(file as unknown as protobuf.Message).finish());
  }
  return cached;
}

/** protoc's name of the entry type of map field `field`: `strategy_options` -> `StrategyOptionsEntry`. */
export function mapEntryName(field: string): string {
  return `${field.replace(/(?:^|_)([a-z0-9])/g, (_m, c: string) => c.toUpperCase()).replace(/_/g, '')}Entry`;
}

/** protoc's JSON name of a field: `strategy_options` -> `strategyOptions`. */
function jsonNameOf(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function nameMapEntries(m: MessageProto): void {
  for (const nested of m.nestedType) nameMapEntries(nested);
  for (const entry of m.nestedType.filter((t) => t.options?.mapEntry === true)) {
    const field = m.field.find((f) => f.typeName === entry.name);
    if (field === undefined) continue;
    entry.name = mapEntryName(field.name);
    field.typeName = entry.name;
  }
}

function collectTypes(m: MessageProto, scope: string, into: Set<string>): void {
  const name = `${scope}.${m.name}`;
  into.add(name);
  for (const nested of m.nestedType) collectTypes(nested, name, into);
  for (const e of m.enumType) into.add(`${name}.${e.name}`);
}

function qualifyFields(m: MessageProto, scope: string, types: Set<string>): void {
  for (const f of m.field) {
    f.jsonName = jsonNameOf(f.name);
    if (f.typeName !== undefined && f.typeName !== '') f.typeName = qualify(f.typeName, scope, types);
  }
  for (const nested of m.nestedType) qualifyFields(nested, `${scope}.${nested.name}`, types);
}

// Protobuf scoping: look the name up in the innermost scope first, then outwards.
function qualify(name: string, scope: string, types: Set<string>): string {
  if (name.startsWith('.')) return name;
  for (let s = scope; s !== ''; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
    if (types.has(`${s}.${name}`)) return `${s}.${name}`;
  }
  throw new Error(`type ${name} referenced in ${scope} is not defined in ${PROTO_FILE_NAME}`);
}

/**
 * A package definition holding only the real descriptor, in the shape @grpc/reflection reads
 * (it looks only at `fileDescriptorProtos`).
 */
export function reflectionDefinition(): Record<string, { fileDescriptorProtos: Buffer[] }> {
  return { 'tributary.v1': { fileDescriptorProtos: [tributaryFileDescriptor()] } };
}
