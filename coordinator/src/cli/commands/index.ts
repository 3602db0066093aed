import type { CliCommand } from '../command.js';
import dashboard from './dashboard.js';
import auditExport from './audit/export.js';
import auditList from './audit/list.js';
import auditVerify from './audit/verify.js';
import dev from './dev.js';
import aggregator from './aggregator.js';
import federationCreate from './federation/create.js';
import federationList from './federation/list.js';
import federationShow from './federation/show.js';
import federationUpdate from './federation/update.js';
import federationDelete from './federation/delete.js';
import grant from './grant.js';
import grants from './grants.js';
import keygen from './keygen.js';
import metricShow from './metric/show.js';
import metricTail from './metric/tail.js';
import modelExport from './model/export.js';
import modelGc from './model/gc.js';
import modelInit from './model/init.js';
import modelInspect from './model/inspect.js';
import modelList from './model/list.js';
import natsInit from './nats/init.js';
import principalAdd from './principal/add.js';
import principalDisable from './principal/disable.js';
import principalList from './principal/list.js';
import principalRotate from './principal/rotate.js';
import revoke from './revoke.js';
import roundList from './round/list.js';
import runList from './run/list.js';
import runStart from './run/start.js';
import runStatus from './run/status.js';
import runStop from './run/stop.js';
import runSearch from './run/search.js';
import runWatch from './run/watch.js';
import serve from './serve.js';
import siteAdd from './site/add.js';
import siteInvite from './site/invite.js';
import siteInvitations from './site/invitations.js';
import siteList from './site/list.js';
import siteRevoke from './site/revoke.js';
import siteRemove from './site/remove.js';
import siteRestore from './site/restore.js';
import siteUninvite from './site/uninvite.js';
import siteCredentials from './site/credentials.js';
import tlsInit from './tls/init.js';

/** Every command, in the order `tributary --help` lists them. */
export const COMMANDS: readonly CliCommand<unknown, unknown>[] = [
  keygen,
  serve,
  dev,
  aggregator,
  siteAdd,
  siteList,
  siteRevoke,
  siteRemove,
  siteRestore,
  siteCredentials,
  siteInvite,
  siteInvitations,
  siteUninvite,
  federationCreate,
  federationList,
  federationShow,
  federationUpdate,
  federationDelete,
  runStart,
  runStop,
  runStatus,
  runList,
  runWatch,
  runSearch,
  roundList,
  metricTail,
  metricShow,
  modelInit,
  modelInspect,
  modelList,
  modelExport,
  modelGc,
  principalAdd,
  principalList,
  principalDisable,
  principalRotate,
  grant,
  revoke,
  grants,
  natsInit,
  dashboard,
  tlsInit,
  auditList,
  auditVerify,
  auditExport,
];
