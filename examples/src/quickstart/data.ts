// The iris data split, shared with `tributary-site simulate --example quickstart`.
export { CLASS_NAMES, NUM_CLASSES, NUM_FEATURES, SITE_MIX, classCounts, concatDatasets, splitIris } from '@tributary/client-sdk/simulation';
export type { Dataset, IrisSplit, SiteData, SplitOptions } from '@tributary/client-sdk/simulation';
