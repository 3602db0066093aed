/**
 * Tributary's wire contract: the generated message types of tributary.proto, error and reason
 * codes, names, keys and signatures, call authentication, NATS subjects, the safetensors codec,
 * and the client side both sites and operators use: signed RPC calls, retries with backoff,
 * resumable model downloads and run watches.
 */
export {
  REASON_STATUS,
  Reason,
  TributaryError,
  codeOfGrpcStatus,
  grpcStatusOf,
  hasReason,
  isReasonCode,
  isTributaryError,
  MAX_STATUS_MESSAGE_CHARS,
  QUOTED_INPUT_CHARS,
  quoted,
  refusalOf,
  statusMessageOf,
} from './errors.js';
export type { Code, ReasonCode, Refusal, TributaryErrorInit, TributaryErrorOptions } from './errors.js';
export { NAME_PATTERN, assertName, isValidName } from './names.js';
export { EVERY_FEDERATION, PRIVILEGES, formatGrantee, formatResource, parseGrantSpec, parseGrantee, parsePrivilege, parseResource } from './grants.js';
export type { GrantSpec, Grantee, Privilege } from './grants.js';
export type { NameKind } from './names.js';
export {
  PUBLIC_KEY_BYTES,
  SECRET_KEY_BYTES,
  SIGNATURE_BYTES,
  decodeKeyFile,
  encodeKeyFile,
  formatPublicKey,
  generateSigningKey,
  keyIdOf,
  parsePublicKey,
  readKeyFile,
  signBytes,
  signBytesNative,
  verifyBytes,
  writeKeyFile,
} from './keys.js';
export type { Signer, SigningKey } from './keys.js';
export { envelopeSigningBytes, isEnvelopeKind, signEnvelope, verifyEnvelope } from './envelope.js';
export type { EnvelopeKind } from './envelope.js';
export { MAX_VERDICT_BYTES, openVerdict, signVerdict } from './verdict.js';
export {
  AGGREGATOR_GROUP,
  AGGREGATOR_QUEUE,
  MAX_AGGREGATION_MESSAGE_BYTES,
  STREAM_PARTIALS,
  aggregationEnvelope,
  aggregationSubjects,
  openFoldJob,
  openFoldVerdict,
  openPartialManifest,
  openPartialRequest,
  signFoldJob,
  signFoldVerdict,
  signPartialManifest,
  signPartialRequest,
  verifyFoldVerdict,
  verifyPartialManifest,
} from './aggregation.js';
export type { OpenedAggregationMessage } from './aggregation.js';
export { MAX_SITE_FAILURE_MESSAGE_CHARS, printableFailureMessage } from './site-failure.js';
export type { OpenedVerdict } from './verdict.js';
export {
  UPDATE_ID_PATTERN,
  decodeEnvelope,
  decodeManifest,
  decodeMetricBatch,
  decodeUpdateStatus,
  encodeEnvelope,
  encodeManifest,
  encodeMetricBatch,
  encodeUpdateStatus,
  newUpdateId,
} from './wire.js';
export {
  CHUNK_INDEX_HEADER,
  DEFAULT_CHUNK_SIZE,
  CHUNK_WINDOW,
  STREAM_METRICS,
  STREAM_PAYLOADS,
  STREAM_UPDATES,
  subjects,
} from './subjects.js';
export type { PayloadSubject, UpdateSubject } from './subjects.js';
export { decodeMetricValue, encodeMetricValue, type JsonMetricValue } from './metric-values.js';
export {
  DTYPE_NAMES,
  MAX_EXACT_INTEGER,
  MAX_SAFETENSORS_TENSORS,
  allFinite,
  allFiniteAsync,
  allFiniteSteps,
  checkSpec,
  checkSpecAsync,
  decodeSafetensors,
  decodeSafetensorsAsync,
  dtypeSize,
  encodeSafetensors,
  safetensorsParts,
  firstInexactInteger,
  fromBigInt64,
  fromFloat32,
  fromFloat64,
  fromFloat64Async,
  fromFloat64Steps,
  isDType,
  sha256Hex,
  sha256HexOfParts,
  tensor,
  parseSafetensorsHeader,
  parseSafetensorsHeaderAsync,
  safetensorsHeaderLength,
  tensorOfBytes,
  tensorViewOfBytes,
  tensorSpecsOf,
  toBigInt64,
  toFloat32,
  toFloat64,
} from './safetensors.js';
export {
  MAX_SPEC_VALUES,
  MODEL_INITS,
  formatModelSpec,
  initialTensors,
  parseModelSpec,
  seededRandom,
  shuffle,
} from './model-init.js';
export type { InitialModelOptions, ModelInit, TensorDeclaration } from './model-init.js';
export { refusalCount, totalRefusals } from './refusal-counts.js';
export { checkedElementCount, elementCount } from './tensor-shape.js';
export { parseDurationText, type DurationUnit } from './duration.js';
export { isSha256Hex } from './encoding.js';
export { runAtOnce, runCooperatively, type Steps } from './cooperative.js';
export { MAX_CHUNKS_IN_FLIGHT, sendInWindow, type ChunkWindowOptions } from './chunk-window.js';
export type { DType, SafetensorsEntry, SafetensorsLayout, Tensor, TensorData, TensorMap } from './safetensors.js';
export {
  ENSEMBLE_FORMAT_VERSION,
  ENSEMBLE_METADATA_KEY,
  OPAQUE_PAYLOAD_TENSOR,
  TENSORS_FLAVOR,
  decodeEnsemble,
  ensembleTensors,
  isEnsembleCombine,
  isEnsembleMetadata,
  isOpaqueFlavor,
  payloadFlavorProblem,
} from './ensemble.js';
export type {
  Ensemble,
  EnsembleCombine,
  EnsembleManifest,
  EnsembleMember,
  EnsembleMemberInfo,
  EnsembleMemberInput,
  EnsembleMemberPayload,
} from './ensemble.js';
export {
  AUTH_HEADERS,
  CallVerifier,
  DEFAULT_AUTH_SKEW_MS,
  MemoryNonceStore,
  DEFAULT_MAX_NONCES,
  REASON_TRAILER,
  callSigningBytes,
  signCall,
} from './callauth.js';
export type { CallHeaders, CallToVerify, CallVerifierOptions, NonceClaim, NonceStore, RememberedNonce, VerifiedCall } from './callauth.js';
export {
  PROTO_LOADER_OPTIONS,
  PROTO_PATH,
  loadTributaryPackage,
  methodPath,
  decodeRequest,
  packageDefinition,
  serviceDefinition,
  serviceMethods,
} from './grpc.js';
export type { ServiceDefinitionOf, ServiceName } from './grpc.js';
export { PRE_ENCODED, allocateModelChunk, preEncodedOf, type ModelChunkHeader, type PreEncoded } from './model-chunk.js';
export { PROTO_FILE_NAME, mapEntryName, reflectionDefinition, tributaryFileDescriptor } from './descriptor.js';
// Client side, shared by the site SDK and the admin client.
export { RpcClient } from './client/rpc-client.js';
export type { CallOptions, RpcClientOptions } from './client/rpc-client.js';
export { abortError, throwIfAborted } from './client/abort.js';
export { Backoff, DEFAULT_BACKOFF_POLICY, backoffDelay, isRetryable, retry, sleep } from './client/backoff.js';
export type { BackoffOptions, BackoffPolicy, RetryClock, RetryOptions } from './client/backoff.js';
export { downloadModel } from './client/model-download.js';
export { MODEL_CHUNK_BYTES, createFederation, initialModelOf } from './client/create-federation.js';
export type { InitialModelSource } from './client/create-federation.js';
export type { DownloadedModel, ModelDownloadOptions, ModelDownloadRequest } from './client/model-download.js';
export { roundCounts, waitForRun } from './client/run-watch.js';
export { tlsChannelCredentials } from './client/tls-credentials.js';
export type { TlsClientPems } from './client/tls-credentials.js';
export type { RoundCounts, RunWaitOptions } from './client/run-watch.js';

// Generated from tributary.proto (npm run gen).
export type { AddSiteRequest, AddSiteRequest__Output } from './generated/tributary/v1/AddSiteRequest.js';
export type { AdminServiceClient, AdminServiceDefinition, AdminServiceHandlers } from './generated/tributary/v1/AdminService.js';
export type { CreateFederationRequest, CreateFederationRequest__Output } from './generated/tributary/v1/CreateFederationRequest.js';
export type { CreateFederationPart, CreateFederationPart__Output } from './generated/tributary/v1/CreateFederationPart.js';
export type { CreateInvitationRequest, CreateInvitationRequest__Output } from './generated/tributary/v1/CreateInvitationRequest.js';
export type { CreateDashboardSessionRequest, CreateDashboardSessionRequest__Output } from './generated/tributary/v1/CreateDashboardSessionRequest.js';
export type { DashboardLogin, DashboardLogin__Output } from './generated/tributary/v1/DashboardLogin.js';
export type { DownloadModelRequest, DownloadModelRequest__Output } from './generated/tributary/v1/DownloadModelRequest.js';
export type { EnrollRequest, EnrollRequest__Output } from './generated/tributary/v1/EnrollRequest.js';
export type { HeartbeatRequest, HeartbeatRequest__Output } from './generated/tributary/v1/HeartbeatRequest.js';
export type { HeartbeatResponse, HeartbeatResponse__Output } from './generated/tributary/v1/HeartbeatResponse.js';
export type { ReportTaskFailureRequest, ReportTaskFailureRequest__Output } from './generated/tributary/v1/ReportTaskFailureRequest.js';
export type { ReportTaskFailureResponse, ReportTaskFailureResponse__Output } from './generated/tributary/v1/ReportTaskFailureResponse.js';
export type { SiteFailure, SiteFailure__Output } from './generated/tributary/v1/SiteFailure.js';
export type { EnrollResponse, EnrollResponse__Output } from './generated/tributary/v1/EnrollResponse.js';
export type { Federation, Federation__Output } from './generated/tributary/v1/Federation.js';
export type { FederationSettings, FederationSettings__Output } from './generated/tributary/v1/FederationSettings.js';
export type { GetFederationRequest, GetFederationRequest__Output } from './generated/tributary/v1/GetFederationRequest.js';
export type { GetRoundRequest, GetRoundRequest__Output } from './generated/tributary/v1/GetRoundRequest.js';
export type { GetRunRequest, GetRunRequest__Output } from './generated/tributary/v1/GetRunRequest.js';
export type { GetUpdateStatusRequest, GetUpdateStatusRequest__Output } from './generated/tributary/v1/GetUpdateStatusRequest.js';
export type { Invitation, Invitation__Output } from './generated/tributary/v1/Invitation.js';
export type { ListFederationsRequest, ListFederationsRequest__Output } from './generated/tributary/v1/ListFederationsRequest.js';
export type { ListFederationsResponse, ListFederationsResponse__Output } from './generated/tributary/v1/ListFederationsResponse.js';
export type { UpdateFederationRequest, UpdateFederationRequest__Output } from './generated/tributary/v1/UpdateFederationRequest.js';
export type { DeleteFederationRequest, DeleteFederationRequest__Output } from './generated/tributary/v1/DeleteFederationRequest.js';
export type { DeleteFederationResponse, DeleteFederationResponse__Output } from './generated/tributary/v1/DeleteFederationResponse.js';
export type { ListModelVersionsRequest, ListModelVersionsRequest__Output } from './generated/tributary/v1/ListModelVersionsRequest.js';
export type { ListModelVersionsResponse, ListModelVersionsResponse__Output } from './generated/tributary/v1/ListModelVersionsResponse.js';
export type { CollectGarbageRequest, CollectGarbageRequest__Output } from './generated/tributary/v1/CollectGarbageRequest.js';
export type { CollectGarbageResponse, CollectGarbageResponse__Output } from './generated/tributary/v1/CollectGarbageResponse.js';
export type { ListRoundsRequest, ListRoundsRequest__Output } from './generated/tributary/v1/ListRoundsRequest.js';
export type { ListRoundsResponse, ListRoundsResponse__Output } from './generated/tributary/v1/ListRoundsResponse.js';
export type { ListRunsRequest, ListRunsRequest__Output } from './generated/tributary/v1/ListRunsRequest.js';
export type { ListRunsResponse, ListRunsResponse__Output } from './generated/tributary/v1/ListRunsResponse.js';
export type { ListSitesRequest, ListSitesRequest__Output } from './generated/tributary/v1/ListSitesRequest.js';
export type { ListSitesResponse, ListSitesResponse__Output } from './generated/tributary/v1/ListSitesResponse.js';
export type { MetricBatch, MetricBatch__Output } from './generated/tributary/v1/MetricBatch.js';
export type { MetricPoint, MetricPoint__Output } from './generated/tributary/v1/MetricPoint.js';
export type { ModelChunk, ModelChunk__Output } from './generated/tributary/v1/ModelChunk.js';
export type { ModelSpec, ModelSpec__Output } from './generated/tributary/v1/ModelSpec.js';
export type { ModelVersion, ModelVersion__Output } from './generated/tributary/v1/ModelVersion.js';
export type { Refusal as RefusalMessage, Refusal__Output } from './generated/tributary/v1/Refusal.js';
export type { RevokeSiteRequest, RevokeSiteRequest__Output } from './generated/tributary/v1/RevokeSiteRequest.js';
export type { ListInvitationsRequest, ListInvitationsRequest__Output } from './generated/tributary/v1/ListInvitationsRequest.js';
export type { ListInvitationsResponse, ListInvitationsResponse__Output } from './generated/tributary/v1/ListInvitationsResponse.js';
export type { RevokeInvitationRequest, RevokeInvitationRequest__Output } from './generated/tributary/v1/RevokeInvitationRequest.js';
export type { RemoveSiteRequest, RemoveSiteRequest__Output } from './generated/tributary/v1/RemoveSiteRequest.js';
export type { RestoreSiteRequest, RestoreSiteRequest__Output } from './generated/tributary/v1/RestoreSiteRequest.js';
export type { IssueSiteNatsCredentialsRequest, IssueSiteNatsCredentialsRequest__Output } from './generated/tributary/v1/IssueSiteNatsCredentialsRequest.js';
export type { Round, Round__Output } from './generated/tributary/v1/Round.js';
export { RoundFailurePolicy } from './generated/tributary/v1/RoundFailurePolicy.js';
export type { RoundFailurePolicy__Output } from './generated/tributary/v1/RoundFailurePolicy.js';
export { RoundState } from './generated/tributary/v1/RoundState.js';
export type { RoundState__Output } from './generated/tributary/v1/RoundState.js';
export { EvaluationState } from './generated/tributary/v1/EvaluationState.js';
export type { EvaluationState__Output } from './generated/tributary/v1/EvaluationState.js';
export type { Run, Run__Output } from './generated/tributary/v1/Run.js';
export type { RunEvent, RunEvent__Output } from './generated/tributary/v1/RunEvent.js';
export { RunStatus } from './generated/tributary/v1/RunStatus.js';
export type { RunStatus__Output } from './generated/tributary/v1/RunStatus.js';
export type { SignedEnvelope, SignedEnvelope__Output } from './generated/tributary/v1/SignedEnvelope.js';
export type { Site, Site__Output } from './generated/tributary/v1/Site.js';
export type { SiteServiceClient, SiteServiceDefinition, SiteServiceHandlers } from './generated/tributary/v1/SiteService.js';
export { SiteStatus } from './generated/tributary/v1/SiteStatus.js';
export type { SiteStatus__Output } from './generated/tributary/v1/SiteStatus.js';
export type { StartRunRequest, StartRunRequest__Output } from './generated/tributary/v1/StartRunRequest.js';
export type { StopRunRequest, StopRunRequest__Output } from './generated/tributary/v1/StopRunRequest.js';
export type { Task, Task__Output } from './generated/tributary/v1/Task.js';
export type { TensorSpec, TensorSpec__Output } from './generated/tributary/v1/TensorSpec.js';
export type { UpdateManifest, UpdateManifest__Output } from './generated/tributary/v1/UpdateManifest.js';
export { UpdateState } from './generated/tributary/v1/UpdateState.js';
export type { UpdateState__Output } from './generated/tributary/v1/UpdateState.js';
export type { UpdateStatus, UpdateStatus__Output } from './generated/tributary/v1/UpdateStatus.js';
export type { UpdateSummary, UpdateSummary__Output } from './generated/tributary/v1/UpdateSummary.js';
export type { DatasetDescriptor, DatasetDescriptor__Output } from './generated/tributary/v1/DatasetDescriptor.js';
export type { GetMetricHistoryRequest, GetMetricHistoryRequest__Output } from './generated/tributary/v1/GetMetricHistoryRequest.js';
export type { GetMetricHistoryResponse, GetMetricHistoryResponse__Output } from './generated/tributary/v1/GetMetricHistoryResponse.js';
export type { MetricEvent, MetricEvent__Output } from './generated/tributary/v1/MetricEvent.js';
export type { MetricSeries, MetricSeries__Output } from './generated/tributary/v1/MetricSeries.js';
export type { SearchRunsRequest, SearchRunsRequest__Output } from './generated/tributary/v1/SearchRunsRequest.js';
export type { SearchRunsResponse, SearchRunsResponse__Output } from './generated/tributary/v1/SearchRunsResponse.js';
export type { ListAuditEntriesRequest, ListAuditEntriesRequest__Output } from './generated/tributary/v1/ListAuditEntriesRequest.js';
export type { AuditEntry, AuditEntry__Output } from './generated/tributary/v1/AuditEntry.js';
export type { VerifyAuditLogRequest, VerifyAuditLogRequest__Output } from './generated/tributary/v1/VerifyAuditLogRequest.js';
export type { AuditVerification, AuditVerification__Output } from './generated/tributary/v1/AuditVerification.js';
export type { AuditBreak, AuditBreak__Output } from './generated/tributary/v1/AuditBreak.js';
export type { TrackedRun, TrackedRun__Output } from './generated/tributary/v1/TrackedRun.js';
export type { WatchMetricsRequest, WatchMetricsRequest__Output } from './generated/tributary/v1/WatchMetricsRequest.js';
export type { WatchRunRequest, WatchRunRequest__Output } from './generated/tributary/v1/WatchRunRequest.js';
export type { RunEventDetail, RunEventDetail__Output } from './generated/tributary/v1/RunEventDetail.js';
export type { WatchTasksRequest, WatchTasksRequest__Output } from './generated/tributary/v1/WatchTasksRequest.js';
export type { WhoAmIRequest, WhoAmIRequest__Output } from './generated/tributary/v1/WhoAmIRequest.js';
export type { WhoAmIResponse, WhoAmIResponse__Output } from './generated/tributary/v1/WhoAmIResponse.js';
export type { GetNatsCredentialsRequest, GetNatsCredentialsRequest__Output } from './generated/tributary/v1/GetNatsCredentialsRequest.js';
export type { NatsCredentials, NatsCredentials__Output } from './generated/tributary/v1/NatsCredentials.js';
export type { Principal as PrincipalMessage, Principal__Output } from './generated/tributary/v1/Principal.js';
export { PrincipalStatus } from './generated/tributary/v1/PrincipalStatus.js';
export type { PrincipalStatus__Output } from './generated/tributary/v1/PrincipalStatus.js';
export type { AddPrincipalRequest, AddPrincipalRequest__Output } from './generated/tributary/v1/AddPrincipalRequest.js';
export type { ListPrincipalsRequest, ListPrincipalsRequest__Output } from './generated/tributary/v1/ListPrincipalsRequest.js';
export type { ListPrincipalsResponse, ListPrincipalsResponse__Output } from './generated/tributary/v1/ListPrincipalsResponse.js';
export type { DisablePrincipalRequest, DisablePrincipalRequest__Output } from './generated/tributary/v1/DisablePrincipalRequest.js';
export type { RotatePrincipalKeyRequest, RotatePrincipalKeyRequest__Output } from './generated/tributary/v1/RotatePrincipalKeyRequest.js';
export type { Grant, Grant__Output } from './generated/tributary/v1/Grant.js';
export type { GrantPrivilegeRequest, GrantPrivilegeRequest__Output } from './generated/tributary/v1/GrantPrivilegeRequest.js';
export type { RevokePrivilegeRequest, RevokePrivilegeRequest__Output } from './generated/tributary/v1/RevokePrivilegeRequest.js';
export type { ListGrantsRequest, ListGrantsRequest__Output } from './generated/tributary/v1/ListGrantsRequest.js';
export type { ListGrantsResponse, ListGrantsResponse__Output } from './generated/tributary/v1/ListGrantsResponse.js';
export type { ProtoGrpcType } from './generated/tributary.js';
export type { JoinAggregationRequest, JoinAggregationRequest__Output } from './generated/tributary/v1/JoinAggregationRequest.js';
export type { AggregationCredentials, AggregationCredentials__Output } from './generated/tributary/v1/AggregationCredentials.js';
export type { FoldJob, FoldJob__Output } from './generated/tributary/v1/FoldJob.js';
export type { FoldVerdict, FoldVerdict__Output } from './generated/tributary/v1/FoldVerdict.js';
export type { PartialRequest, PartialRequest__Output } from './generated/tributary/v1/PartialRequest.js';
export type { PartialManifest, PartialManifest__Output } from './generated/tributary/v1/PartialManifest.js';
