// The spam filter example, reduced (a quarter of the corpus, three rounds): three mail providers
// on a real nats-server (operator mode) and coordinator, scored on the shared test set.
import { beforeAll, describe, expect, it } from 'vitest';
import { GROUPS, loadCorpus, splitSpamAssassin } from '../../examples/src/spam-filter/data.js';
import { runSpamFilter, type SpamFilterReport } from '../../examples/src/spam-filter/federation.js';
import { decodeNaiveBayes, encodeNaiveBayes, trainNaiveBayes } from '../../examples/src/spam-filter/model.js';
import { featurize } from '../../examples/src/spam-filter/features.js';

describe('spam filter split', () => {
  const emails = loadCorpus();
  const split = splitSpamAssassin(emails);

  it('draws the shared test set from every sub-corpus', () => {
    for (const group of GROUPS) expect(split.test.filter((e) => e.group === group).length).toBeGreaterThan(0);
  });

  it('shares no email between two providers or between a provider and the test set', () => {
    const ids = [...split.test, ...split.sites.flatMap((s) => s.emails)].map((e) => `${e.group}/${e.id}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(emails.length);
  });

  it('gives each provider a different dominant sub-corpus', () => {
    const dominant = split.sites.map((site) => {
      const shares = GROUPS.map((g) => site.emails.filter((e) => e.group === g).length / emails.filter((e) => e.group === g).length);
      return GROUPS[shares.indexOf(Math.max(...shares))];
    });
    expect(new Set(dominant).size).toBe(split.sites.length);
  });
});

describe('spam filter naive Bayes member', () => {
  it('comes back from its custom payload bytes unchanged', () => {
    const { sites } = splitSpamAssassin(loadCorpus(), { fraction: 0.05 });
    const spec = { bits: 12, seed: 5 };
    const model = trainNaiveBayes(spec, featurize(sites[0]!.emails, spec));
    const decoded = decodeNaiveBayes(encodeNaiveBayes(model));
    expect(decoded.spec).toEqual(spec);
    expect([...decoded.logPrior]).toEqual([...model.logPrior]);
    expect([...decoded.logLikelihood]).toEqual([...model.logLikelihood]);
  });
});

describe('spam filter federation', () => {
  let report: SpamFilterReport;

  beforeAll(async () => {
    report = await runSpamFilter({ split: { fraction: 0.25 }, rounds: 3, epochsPerRound: 1 });
  }, 240_000);

  it('scores every provider alone, fedavg and the ensemble on the same test set', () => {
    expect(report.rows.map((r) => r.name)).toEqual(['mail-classic alone', 'mail-hardham alone', 'mail-fresh alone', 'fedavg (3 sites)', 'ensemble (3 models)']);
  });

  it('gives a fedavg model that beats the weakest provider alone', () => {
    const alone = report.rows.filter((r) => r.name.endsWith(' alone')).map((r) => r.scores.accuracy);
    const fedavg = report.rows.find((r) => r.name.startsWith('fedavg'))!;
    expect(report.fedavgStatus).toBe('RUN_STATUS_FINISHED');
    expect(fedavg.rounds).toBe(3);
    expect(fedavg.scores.accuracy).toBeGreaterThan(Math.min(...alone));
  });

  it('moves each fedavg update as a payload of about a megabyte', () => {
    const fedavg = report.rows.find((r) => r.name.startsWith('fedavg'))!;
    // 3 rounds × 3 sites, each a download and an upload of 2^18 float32 weights.
    expect(fedavg.bytesMoved).toBeGreaterThan(3 * 3 * 2 * 4 * 2 ** 18);
  });

  it('commits an ensemble of one logistic regression per provider and a naive Bayes member', () => {
    expect(report.ensembleStatus).toBe('RUN_STATUS_FINISHED');
    expect(report.ensembleMembers.map((m) => m.flavor).sort()).toEqual(['custom:naive-bayes', 'tensors', 'tensors']);
  });
});
