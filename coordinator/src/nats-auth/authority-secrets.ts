import { fromPublic, fromSeed, type KeyPair } from '@nats-io/nkeys';
import { Reason, TributaryError } from '@tributary/proto';

const FORMAT = 'tributary-nats-authority/1';

/** nkey kinds by the first letter of their public key. */
export type NkeyKind = 'O' | 'A' | 'U';
const KIND_WORDS: Readonly<Record<NkeyKind, string>> = { O: 'an operator', A: 'an account', U: 'a user' };

/**
 * What the coordinator holds to run the walls (`authority.json`, 0600): the operator signing
 * seed to re-sign the account JWT (revocations), the account signing seed to mint users. The
 * identity seeds stay out of it (`identity-keys.json`), so they can live offline.
 */
export interface AuthoritySecrets {
  readonly operator: { readonly name: string; readonly publicKey: string; readonly signingKeySeed: string };
  readonly systemAccount: { readonly name: string; readonly publicKey: string };
  readonly account: { readonly name: string; readonly publicKey: string; readonly signingKeySeed: string };
}

/** The identity seeds (`identity-keys.json`): needed only to re-issue the operator JWT or its accounts' identities. */
export interface IdentityKeys {
  readonly operator: { readonly publicKey: string; readonly seed: string };
  readonly systemAccount: { readonly publicKey: string; readonly seed: string };
  readonly account: { readonly publicKey: string; readonly seed: string };
}

export function encodeAuthoritySecrets(s: AuthoritySecrets): string {
  return JSON.stringify({ format: FORMAT, ...s }, null, 2) + '\n';
}

export function encodeIdentityKeys(k: IdentityKeys): string {
  return JSON.stringify({ format: FORMAT, ...k }, null, 2) + '\n';
}

/** Parses and checks `authority.json`: every key is of its kind and each seed matches nothing else. */
export function parseAuthoritySecrets(text: string, path: string): AuthoritySecrets {
  const invalid = (why: string): TributaryError =>
    TributaryError.of(Reason.NATS_AUTHORITY_INVALID, `${path}: ${why}`);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  const get = (obj: unknown, key: string): unknown => (typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[key] : undefined);
  if (get(o, 'format') !== FORMAT) throw invalid(`"format" must be "${FORMAT}"`);
  const str = (section: string, key: string): string => {
    const v = get(get(o, section), key);
    if (typeof v !== 'string' || v === '') throw invalid(`"${section}.${key}" must be a non-empty string`);
    return v;
  };
  const secrets: AuthoritySecrets = {
    operator: { name: str('operator', 'name'), publicKey: str('operator', 'publicKey'), signingKeySeed: str('operator', 'signingKeySeed') },
    systemAccount: { name: str('systemAccount', 'name'), publicKey: str('systemAccount', 'publicKey') },
    account: { name: str('account', 'name'), publicKey: str('account', 'publicKey'), signingKeySeed: str('account', 'signingKeySeed') },
  };
  expectPublicKey(secrets.operator.publicKey, 'O', 'operator.publicKey', invalid);
  expectPublicKey(secrets.systemAccount.publicKey, 'A', 'systemAccount.publicKey', invalid);
  expectPublicKey(secrets.account.publicKey, 'A', 'account.publicKey', invalid);
  signingKeyOf(secrets.operator.signingKeySeed, 'O', 'operator.signingKeySeed', invalid);
  signingKeyOf(secrets.account.signingKeySeed, 'A', 'account.signingKeySeed', invalid);
  return secrets;
}

/** The key pair of a seed, checked to be of `kind` (`O` operator, `A` account, `U` user). */
export function signingKeyOf(seed: string, kind: NkeyKind, what: string, invalid: (why: string) => Error): KeyPair {
  let kp: KeyPair;
  try {
    kp = fromSeed(new TextEncoder().encode(seed));
  } catch {
    throw invalid(`"${what}" is not an nkey seed`);
  }
  if (!kp.getPublicKey().startsWith(kind)) throw invalid(`"${what}" is not ${KIND_WORDS[kind]} seed`);
  return kp;
}

/** Checks that `key` is an nkey public key of `kind`. */
export function expectPublicKey(key: string, kind: NkeyKind, what: string, invalid: (why: string) => Error): string {
  try {
    fromPublic(key);
  } catch {
    throw invalid(`"${what}" is not an nkey public key`);
  }
  if (!key.startsWith(kind)) throw invalid(`"${what}" is not ${KIND_WORDS[kind]} public key`);
  return key;
}
