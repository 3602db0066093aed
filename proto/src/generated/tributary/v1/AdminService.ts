// Original file: tributary.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AddPrincipalRequest as _tributary_v1_AddPrincipalRequest, AddPrincipalRequest__Output as _tributary_v1_AddPrincipalRequest__Output } from '../../tributary/v1/AddPrincipalRequest.js';
import type { AddSiteRequest as _tributary_v1_AddSiteRequest, AddSiteRequest__Output as _tributary_v1_AddSiteRequest__Output } from '../../tributary/v1/AddSiteRequest.js';
import type { AggregationCredentials as _tributary_v1_AggregationCredentials, AggregationCredentials__Output as _tributary_v1_AggregationCredentials__Output } from '../../tributary/v1/AggregationCredentials.js';
import type { AuditEntry as _tributary_v1_AuditEntry, AuditEntry__Output as _tributary_v1_AuditEntry__Output } from '../../tributary/v1/AuditEntry.js';
import type { AuditVerification as _tributary_v1_AuditVerification, AuditVerification__Output as _tributary_v1_AuditVerification__Output } from '../../tributary/v1/AuditVerification.js';
import type { CollectGarbageRequest as _tributary_v1_CollectGarbageRequest, CollectGarbageRequest__Output as _tributary_v1_CollectGarbageRequest__Output } from '../../tributary/v1/CollectGarbageRequest.js';
import type { CollectGarbageResponse as _tributary_v1_CollectGarbageResponse, CollectGarbageResponse__Output as _tributary_v1_CollectGarbageResponse__Output } from '../../tributary/v1/CollectGarbageResponse.js';
import type { CreateDashboardSessionRequest as _tributary_v1_CreateDashboardSessionRequest, CreateDashboardSessionRequest__Output as _tributary_v1_CreateDashboardSessionRequest__Output } from '../../tributary/v1/CreateDashboardSessionRequest.js';
import type { CreateFederationPart as _tributary_v1_CreateFederationPart, CreateFederationPart__Output as _tributary_v1_CreateFederationPart__Output } from '../../tributary/v1/CreateFederationPart.js';
import type { CreateInvitationRequest as _tributary_v1_CreateInvitationRequest, CreateInvitationRequest__Output as _tributary_v1_CreateInvitationRequest__Output } from '../../tributary/v1/CreateInvitationRequest.js';
import type { DashboardLogin as _tributary_v1_DashboardLogin, DashboardLogin__Output as _tributary_v1_DashboardLogin__Output } from '../../tributary/v1/DashboardLogin.js';
import type { DeleteFederationRequest as _tributary_v1_DeleteFederationRequest, DeleteFederationRequest__Output as _tributary_v1_DeleteFederationRequest__Output } from '../../tributary/v1/DeleteFederationRequest.js';
import type { DeleteFederationResponse as _tributary_v1_DeleteFederationResponse, DeleteFederationResponse__Output as _tributary_v1_DeleteFederationResponse__Output } from '../../tributary/v1/DeleteFederationResponse.js';
import type { DisablePrincipalRequest as _tributary_v1_DisablePrincipalRequest, DisablePrincipalRequest__Output as _tributary_v1_DisablePrincipalRequest__Output } from '../../tributary/v1/DisablePrincipalRequest.js';
import type { DownloadModelRequest as _tributary_v1_DownloadModelRequest, DownloadModelRequest__Output as _tributary_v1_DownloadModelRequest__Output } from '../../tributary/v1/DownloadModelRequest.js';
import type { Federation as _tributary_v1_Federation, Federation__Output as _tributary_v1_Federation__Output } from '../../tributary/v1/Federation.js';
import type { GetFederationRequest as _tributary_v1_GetFederationRequest, GetFederationRequest__Output as _tributary_v1_GetFederationRequest__Output } from '../../tributary/v1/GetFederationRequest.js';
import type { GetMetricHistoryRequest as _tributary_v1_GetMetricHistoryRequest, GetMetricHistoryRequest__Output as _tributary_v1_GetMetricHistoryRequest__Output } from '../../tributary/v1/GetMetricHistoryRequest.js';
import type { GetMetricHistoryResponse as _tributary_v1_GetMetricHistoryResponse, GetMetricHistoryResponse__Output as _tributary_v1_GetMetricHistoryResponse__Output } from '../../tributary/v1/GetMetricHistoryResponse.js';
import type { GetRoundRequest as _tributary_v1_GetRoundRequest, GetRoundRequest__Output as _tributary_v1_GetRoundRequest__Output } from '../../tributary/v1/GetRoundRequest.js';
import type { GetRunRequest as _tributary_v1_GetRunRequest, GetRunRequest__Output as _tributary_v1_GetRunRequest__Output } from '../../tributary/v1/GetRunRequest.js';
import type { Grant as _tributary_v1_Grant, Grant__Output as _tributary_v1_Grant__Output } from '../../tributary/v1/Grant.js';
import type { GrantPrivilegeRequest as _tributary_v1_GrantPrivilegeRequest, GrantPrivilegeRequest__Output as _tributary_v1_GrantPrivilegeRequest__Output } from '../../tributary/v1/GrantPrivilegeRequest.js';
import type { Invitation as _tributary_v1_Invitation, Invitation__Output as _tributary_v1_Invitation__Output } from '../../tributary/v1/Invitation.js';
import type { IssueSiteNatsCredentialsRequest as _tributary_v1_IssueSiteNatsCredentialsRequest, IssueSiteNatsCredentialsRequest__Output as _tributary_v1_IssueSiteNatsCredentialsRequest__Output } from '../../tributary/v1/IssueSiteNatsCredentialsRequest.js';
import type { JoinAggregationRequest as _tributary_v1_JoinAggregationRequest, JoinAggregationRequest__Output as _tributary_v1_JoinAggregationRequest__Output } from '../../tributary/v1/JoinAggregationRequest.js';
import type { ListAuditEntriesRequest as _tributary_v1_ListAuditEntriesRequest, ListAuditEntriesRequest__Output as _tributary_v1_ListAuditEntriesRequest__Output } from '../../tributary/v1/ListAuditEntriesRequest.js';
import type { ListFederationsRequest as _tributary_v1_ListFederationsRequest, ListFederationsRequest__Output as _tributary_v1_ListFederationsRequest__Output } from '../../tributary/v1/ListFederationsRequest.js';
import type { ListFederationsResponse as _tributary_v1_ListFederationsResponse, ListFederationsResponse__Output as _tributary_v1_ListFederationsResponse__Output } from '../../tributary/v1/ListFederationsResponse.js';
import type { ListGrantsRequest as _tributary_v1_ListGrantsRequest, ListGrantsRequest__Output as _tributary_v1_ListGrantsRequest__Output } from '../../tributary/v1/ListGrantsRequest.js';
import type { ListGrantsResponse as _tributary_v1_ListGrantsResponse, ListGrantsResponse__Output as _tributary_v1_ListGrantsResponse__Output } from '../../tributary/v1/ListGrantsResponse.js';
import type { ListInvitationsRequest as _tributary_v1_ListInvitationsRequest, ListInvitationsRequest__Output as _tributary_v1_ListInvitationsRequest__Output } from '../../tributary/v1/ListInvitationsRequest.js';
import type { ListInvitationsResponse as _tributary_v1_ListInvitationsResponse, ListInvitationsResponse__Output as _tributary_v1_ListInvitationsResponse__Output } from '../../tributary/v1/ListInvitationsResponse.js';
import type { ListModelVersionsRequest as _tributary_v1_ListModelVersionsRequest, ListModelVersionsRequest__Output as _tributary_v1_ListModelVersionsRequest__Output } from '../../tributary/v1/ListModelVersionsRequest.js';
import type { ListModelVersionsResponse as _tributary_v1_ListModelVersionsResponse, ListModelVersionsResponse__Output as _tributary_v1_ListModelVersionsResponse__Output } from '../../tributary/v1/ListModelVersionsResponse.js';
import type { ListPrincipalsRequest as _tributary_v1_ListPrincipalsRequest, ListPrincipalsRequest__Output as _tributary_v1_ListPrincipalsRequest__Output } from '../../tributary/v1/ListPrincipalsRequest.js';
import type { ListPrincipalsResponse as _tributary_v1_ListPrincipalsResponse, ListPrincipalsResponse__Output as _tributary_v1_ListPrincipalsResponse__Output } from '../../tributary/v1/ListPrincipalsResponse.js';
import type { ListRoundsRequest as _tributary_v1_ListRoundsRequest, ListRoundsRequest__Output as _tributary_v1_ListRoundsRequest__Output } from '../../tributary/v1/ListRoundsRequest.js';
import type { ListRoundsResponse as _tributary_v1_ListRoundsResponse, ListRoundsResponse__Output as _tributary_v1_ListRoundsResponse__Output } from '../../tributary/v1/ListRoundsResponse.js';
import type { ListRunsRequest as _tributary_v1_ListRunsRequest, ListRunsRequest__Output as _tributary_v1_ListRunsRequest__Output } from '../../tributary/v1/ListRunsRequest.js';
import type { ListRunsResponse as _tributary_v1_ListRunsResponse, ListRunsResponse__Output as _tributary_v1_ListRunsResponse__Output } from '../../tributary/v1/ListRunsResponse.js';
import type { ListSitesRequest as _tributary_v1_ListSitesRequest, ListSitesRequest__Output as _tributary_v1_ListSitesRequest__Output } from '../../tributary/v1/ListSitesRequest.js';
import type { ListSitesResponse as _tributary_v1_ListSitesResponse, ListSitesResponse__Output as _tributary_v1_ListSitesResponse__Output } from '../../tributary/v1/ListSitesResponse.js';
import type { MetricEvent as _tributary_v1_MetricEvent, MetricEvent__Output as _tributary_v1_MetricEvent__Output } from '../../tributary/v1/MetricEvent.js';
import type { ModelChunk as _tributary_v1_ModelChunk, ModelChunk__Output as _tributary_v1_ModelChunk__Output } from '../../tributary/v1/ModelChunk.js';
import type { NatsCredentials as _tributary_v1_NatsCredentials, NatsCredentials__Output as _tributary_v1_NatsCredentials__Output } from '../../tributary/v1/NatsCredentials.js';
import type { Principal as _tributary_v1_Principal, Principal__Output as _tributary_v1_Principal__Output } from '../../tributary/v1/Principal.js';
import type { RemoveSiteRequest as _tributary_v1_RemoveSiteRequest, RemoveSiteRequest__Output as _tributary_v1_RemoveSiteRequest__Output } from '../../tributary/v1/RemoveSiteRequest.js';
import type { RestoreSiteRequest as _tributary_v1_RestoreSiteRequest, RestoreSiteRequest__Output as _tributary_v1_RestoreSiteRequest__Output } from '../../tributary/v1/RestoreSiteRequest.js';
import type { RevokeInvitationRequest as _tributary_v1_RevokeInvitationRequest, RevokeInvitationRequest__Output as _tributary_v1_RevokeInvitationRequest__Output } from '../../tributary/v1/RevokeInvitationRequest.js';
import type { RevokePrivilegeRequest as _tributary_v1_RevokePrivilegeRequest, RevokePrivilegeRequest__Output as _tributary_v1_RevokePrivilegeRequest__Output } from '../../tributary/v1/RevokePrivilegeRequest.js';
import type { RevokeSiteRequest as _tributary_v1_RevokeSiteRequest, RevokeSiteRequest__Output as _tributary_v1_RevokeSiteRequest__Output } from '../../tributary/v1/RevokeSiteRequest.js';
import type { RotatePrincipalKeyRequest as _tributary_v1_RotatePrincipalKeyRequest, RotatePrincipalKeyRequest__Output as _tributary_v1_RotatePrincipalKeyRequest__Output } from '../../tributary/v1/RotatePrincipalKeyRequest.js';
import type { Round as _tributary_v1_Round, Round__Output as _tributary_v1_Round__Output } from '../../tributary/v1/Round.js';
import type { Run as _tributary_v1_Run, Run__Output as _tributary_v1_Run__Output } from '../../tributary/v1/Run.js';
import type { RunEvent as _tributary_v1_RunEvent, RunEvent__Output as _tributary_v1_RunEvent__Output } from '../../tributary/v1/RunEvent.js';
import type { SearchRunsRequest as _tributary_v1_SearchRunsRequest, SearchRunsRequest__Output as _tributary_v1_SearchRunsRequest__Output } from '../../tributary/v1/SearchRunsRequest.js';
import type { SearchRunsResponse as _tributary_v1_SearchRunsResponse, SearchRunsResponse__Output as _tributary_v1_SearchRunsResponse__Output } from '../../tributary/v1/SearchRunsResponse.js';
import type { Site as _tributary_v1_Site, Site__Output as _tributary_v1_Site__Output } from '../../tributary/v1/Site.js';
import type { StartRunRequest as _tributary_v1_StartRunRequest, StartRunRequest__Output as _tributary_v1_StartRunRequest__Output } from '../../tributary/v1/StartRunRequest.js';
import type { StopRunRequest as _tributary_v1_StopRunRequest, StopRunRequest__Output as _tributary_v1_StopRunRequest__Output } from '../../tributary/v1/StopRunRequest.js';
import type { UpdateFederationRequest as _tributary_v1_UpdateFederationRequest, UpdateFederationRequest__Output as _tributary_v1_UpdateFederationRequest__Output } from '../../tributary/v1/UpdateFederationRequest.js';
import type { VerifyAuditLogRequest as _tributary_v1_VerifyAuditLogRequest, VerifyAuditLogRequest__Output as _tributary_v1_VerifyAuditLogRequest__Output } from '../../tributary/v1/VerifyAuditLogRequest.js';
import type { WatchMetricsRequest as _tributary_v1_WatchMetricsRequest, WatchMetricsRequest__Output as _tributary_v1_WatchMetricsRequest__Output } from '../../tributary/v1/WatchMetricsRequest.js';
import type { WatchRunRequest as _tributary_v1_WatchRunRequest, WatchRunRequest__Output as _tributary_v1_WatchRunRequest__Output } from '../../tributary/v1/WatchRunRequest.js';

export interface AdminServiceClient extends grpc.Client {
  AddPrincipal(argument: _tributary_v1_AddPrincipalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  AddPrincipal(argument: _tributary_v1_AddPrincipalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  AddPrincipal(argument: _tributary_v1_AddPrincipalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  AddPrincipal(argument: _tributary_v1_AddPrincipalRequest, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  addPrincipal(argument: _tributary_v1_AddPrincipalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  addPrincipal(argument: _tributary_v1_AddPrincipalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  addPrincipal(argument: _tributary_v1_AddPrincipalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  addPrincipal(argument: _tributary_v1_AddPrincipalRequest, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  
  AddSite(argument: _tributary_v1_AddSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  AddSite(argument: _tributary_v1_AddSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  AddSite(argument: _tributary_v1_AddSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  AddSite(argument: _tributary_v1_AddSiteRequest, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  addSite(argument: _tributary_v1_AddSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  addSite(argument: _tributary_v1_AddSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  addSite(argument: _tributary_v1_AddSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  addSite(argument: _tributary_v1_AddSiteRequest, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  
  CollectGarbage(argument: _tributary_v1_CollectGarbageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_CollectGarbageResponse__Output>): grpc.ClientUnaryCall;
  CollectGarbage(argument: _tributary_v1_CollectGarbageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_CollectGarbageResponse__Output>): grpc.ClientUnaryCall;
  CollectGarbage(argument: _tributary_v1_CollectGarbageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_CollectGarbageResponse__Output>): grpc.ClientUnaryCall;
  CollectGarbage(argument: _tributary_v1_CollectGarbageRequest, callback: grpc.requestCallback<_tributary_v1_CollectGarbageResponse__Output>): grpc.ClientUnaryCall;
  collectGarbage(argument: _tributary_v1_CollectGarbageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_CollectGarbageResponse__Output>): grpc.ClientUnaryCall;
  collectGarbage(argument: _tributary_v1_CollectGarbageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_CollectGarbageResponse__Output>): grpc.ClientUnaryCall;
  collectGarbage(argument: _tributary_v1_CollectGarbageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_CollectGarbageResponse__Output>): grpc.ClientUnaryCall;
  collectGarbage(argument: _tributary_v1_CollectGarbageRequest, callback: grpc.requestCallback<_tributary_v1_CollectGarbageResponse__Output>): grpc.ClientUnaryCall;
  
  CreateDashboardSession(argument: _tributary_v1_CreateDashboardSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_DashboardLogin__Output>): grpc.ClientUnaryCall;
  CreateDashboardSession(argument: _tributary_v1_CreateDashboardSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_DashboardLogin__Output>): grpc.ClientUnaryCall;
  CreateDashboardSession(argument: _tributary_v1_CreateDashboardSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_DashboardLogin__Output>): grpc.ClientUnaryCall;
  CreateDashboardSession(argument: _tributary_v1_CreateDashboardSessionRequest, callback: grpc.requestCallback<_tributary_v1_DashboardLogin__Output>): grpc.ClientUnaryCall;
  createDashboardSession(argument: _tributary_v1_CreateDashboardSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_DashboardLogin__Output>): grpc.ClientUnaryCall;
  createDashboardSession(argument: _tributary_v1_CreateDashboardSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_DashboardLogin__Output>): grpc.ClientUnaryCall;
  createDashboardSession(argument: _tributary_v1_CreateDashboardSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_DashboardLogin__Output>): grpc.ClientUnaryCall;
  createDashboardSession(argument: _tributary_v1_CreateDashboardSessionRequest, callback: grpc.requestCallback<_tributary_v1_DashboardLogin__Output>): grpc.ClientUnaryCall;
  
  CreateFederation(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientWritableStream<_tributary_v1_CreateFederationPart>;
  CreateFederation(metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientWritableStream<_tributary_v1_CreateFederationPart>;
  CreateFederation(options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientWritableStream<_tributary_v1_CreateFederationPart>;
  CreateFederation(callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientWritableStream<_tributary_v1_CreateFederationPart>;
  createFederation(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientWritableStream<_tributary_v1_CreateFederationPart>;
  createFederation(metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientWritableStream<_tributary_v1_CreateFederationPart>;
  createFederation(options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientWritableStream<_tributary_v1_CreateFederationPart>;
  createFederation(callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientWritableStream<_tributary_v1_CreateFederationPart>;
  
  CreateInvitation(argument: _tributary_v1_CreateInvitationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  CreateInvitation(argument: _tributary_v1_CreateInvitationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  CreateInvitation(argument: _tributary_v1_CreateInvitationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  CreateInvitation(argument: _tributary_v1_CreateInvitationRequest, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  createInvitation(argument: _tributary_v1_CreateInvitationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  createInvitation(argument: _tributary_v1_CreateInvitationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  createInvitation(argument: _tributary_v1_CreateInvitationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  createInvitation(argument: _tributary_v1_CreateInvitationRequest, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  
  DeleteFederation(argument: _tributary_v1_DeleteFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_DeleteFederationResponse__Output>): grpc.ClientUnaryCall;
  DeleteFederation(argument: _tributary_v1_DeleteFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_DeleteFederationResponse__Output>): grpc.ClientUnaryCall;
  DeleteFederation(argument: _tributary_v1_DeleteFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_DeleteFederationResponse__Output>): grpc.ClientUnaryCall;
  DeleteFederation(argument: _tributary_v1_DeleteFederationRequest, callback: grpc.requestCallback<_tributary_v1_DeleteFederationResponse__Output>): grpc.ClientUnaryCall;
  deleteFederation(argument: _tributary_v1_DeleteFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_DeleteFederationResponse__Output>): grpc.ClientUnaryCall;
  deleteFederation(argument: _tributary_v1_DeleteFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_DeleteFederationResponse__Output>): grpc.ClientUnaryCall;
  deleteFederation(argument: _tributary_v1_DeleteFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_DeleteFederationResponse__Output>): grpc.ClientUnaryCall;
  deleteFederation(argument: _tributary_v1_DeleteFederationRequest, callback: grpc.requestCallback<_tributary_v1_DeleteFederationResponse__Output>): grpc.ClientUnaryCall;
  
  DisablePrincipal(argument: _tributary_v1_DisablePrincipalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  DisablePrincipal(argument: _tributary_v1_DisablePrincipalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  DisablePrincipal(argument: _tributary_v1_DisablePrincipalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  DisablePrincipal(argument: _tributary_v1_DisablePrincipalRequest, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  disablePrincipal(argument: _tributary_v1_DisablePrincipalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  disablePrincipal(argument: _tributary_v1_DisablePrincipalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  disablePrincipal(argument: _tributary_v1_DisablePrincipalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  disablePrincipal(argument: _tributary_v1_DisablePrincipalRequest, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  
  DownloadModel(argument: _tributary_v1_DownloadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_ModelChunk__Output>;
  DownloadModel(argument: _tributary_v1_DownloadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_ModelChunk__Output>;
  downloadModel(argument: _tributary_v1_DownloadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_ModelChunk__Output>;
  downloadModel(argument: _tributary_v1_DownloadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_ModelChunk__Output>;
  
  GetFederation(argument: _tributary_v1_GetFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  GetFederation(argument: _tributary_v1_GetFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  GetFederation(argument: _tributary_v1_GetFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  GetFederation(argument: _tributary_v1_GetFederationRequest, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  getFederation(argument: _tributary_v1_GetFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  getFederation(argument: _tributary_v1_GetFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  getFederation(argument: _tributary_v1_GetFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  getFederation(argument: _tributary_v1_GetFederationRequest, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  
  GetMetricHistory(argument: _tributary_v1_GetMetricHistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_GetMetricHistoryResponse__Output>): grpc.ClientUnaryCall;
  GetMetricHistory(argument: _tributary_v1_GetMetricHistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_GetMetricHistoryResponse__Output>): grpc.ClientUnaryCall;
  GetMetricHistory(argument: _tributary_v1_GetMetricHistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_GetMetricHistoryResponse__Output>): grpc.ClientUnaryCall;
  GetMetricHistory(argument: _tributary_v1_GetMetricHistoryRequest, callback: grpc.requestCallback<_tributary_v1_GetMetricHistoryResponse__Output>): grpc.ClientUnaryCall;
  getMetricHistory(argument: _tributary_v1_GetMetricHistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_GetMetricHistoryResponse__Output>): grpc.ClientUnaryCall;
  getMetricHistory(argument: _tributary_v1_GetMetricHistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_GetMetricHistoryResponse__Output>): grpc.ClientUnaryCall;
  getMetricHistory(argument: _tributary_v1_GetMetricHistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_GetMetricHistoryResponse__Output>): grpc.ClientUnaryCall;
  getMetricHistory(argument: _tributary_v1_GetMetricHistoryRequest, callback: grpc.requestCallback<_tributary_v1_GetMetricHistoryResponse__Output>): grpc.ClientUnaryCall;
  
  GetRound(argument: _tributary_v1_GetRoundRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Round__Output>): grpc.ClientUnaryCall;
  GetRound(argument: _tributary_v1_GetRoundRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Round__Output>): grpc.ClientUnaryCall;
  GetRound(argument: _tributary_v1_GetRoundRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Round__Output>): grpc.ClientUnaryCall;
  GetRound(argument: _tributary_v1_GetRoundRequest, callback: grpc.requestCallback<_tributary_v1_Round__Output>): grpc.ClientUnaryCall;
  getRound(argument: _tributary_v1_GetRoundRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Round__Output>): grpc.ClientUnaryCall;
  getRound(argument: _tributary_v1_GetRoundRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Round__Output>): grpc.ClientUnaryCall;
  getRound(argument: _tributary_v1_GetRoundRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Round__Output>): grpc.ClientUnaryCall;
  getRound(argument: _tributary_v1_GetRoundRequest, callback: grpc.requestCallback<_tributary_v1_Round__Output>): grpc.ClientUnaryCall;
  
  GetRun(argument: _tributary_v1_GetRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _tributary_v1_GetRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _tributary_v1_GetRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _tributary_v1_GetRunRequest, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  getRun(argument: _tributary_v1_GetRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  getRun(argument: _tributary_v1_GetRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  getRun(argument: _tributary_v1_GetRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  getRun(argument: _tributary_v1_GetRunRequest, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  
  GrantPrivilege(argument: _tributary_v1_GrantPrivilegeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  GrantPrivilege(argument: _tributary_v1_GrantPrivilegeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  GrantPrivilege(argument: _tributary_v1_GrantPrivilegeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  GrantPrivilege(argument: _tributary_v1_GrantPrivilegeRequest, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  grantPrivilege(argument: _tributary_v1_GrantPrivilegeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  grantPrivilege(argument: _tributary_v1_GrantPrivilegeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  grantPrivilege(argument: _tributary_v1_GrantPrivilegeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  grantPrivilege(argument: _tributary_v1_GrantPrivilegeRequest, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  
  IssueSiteNatsCredentials(argument: _tributary_v1_IssueSiteNatsCredentialsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  IssueSiteNatsCredentials(argument: _tributary_v1_IssueSiteNatsCredentialsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  IssueSiteNatsCredentials(argument: _tributary_v1_IssueSiteNatsCredentialsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  IssueSiteNatsCredentials(argument: _tributary_v1_IssueSiteNatsCredentialsRequest, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  issueSiteNatsCredentials(argument: _tributary_v1_IssueSiteNatsCredentialsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  issueSiteNatsCredentials(argument: _tributary_v1_IssueSiteNatsCredentialsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  issueSiteNatsCredentials(argument: _tributary_v1_IssueSiteNatsCredentialsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  issueSiteNatsCredentials(argument: _tributary_v1_IssueSiteNatsCredentialsRequest, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  
  JoinAggregation(argument: _tributary_v1_JoinAggregationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_AggregationCredentials__Output>): grpc.ClientUnaryCall;
  JoinAggregation(argument: _tributary_v1_JoinAggregationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_AggregationCredentials__Output>): grpc.ClientUnaryCall;
  JoinAggregation(argument: _tributary_v1_JoinAggregationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_AggregationCredentials__Output>): grpc.ClientUnaryCall;
  JoinAggregation(argument: _tributary_v1_JoinAggregationRequest, callback: grpc.requestCallback<_tributary_v1_AggregationCredentials__Output>): grpc.ClientUnaryCall;
  joinAggregation(argument: _tributary_v1_JoinAggregationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_AggregationCredentials__Output>): grpc.ClientUnaryCall;
  joinAggregation(argument: _tributary_v1_JoinAggregationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_AggregationCredentials__Output>): grpc.ClientUnaryCall;
  joinAggregation(argument: _tributary_v1_JoinAggregationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_AggregationCredentials__Output>): grpc.ClientUnaryCall;
  joinAggregation(argument: _tributary_v1_JoinAggregationRequest, callback: grpc.requestCallback<_tributary_v1_AggregationCredentials__Output>): grpc.ClientUnaryCall;
  
  ListAuditEntries(argument: _tributary_v1_ListAuditEntriesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_AuditEntry__Output>;
  ListAuditEntries(argument: _tributary_v1_ListAuditEntriesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_AuditEntry__Output>;
  listAuditEntries(argument: _tributary_v1_ListAuditEntriesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_AuditEntry__Output>;
  listAuditEntries(argument: _tributary_v1_ListAuditEntriesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_AuditEntry__Output>;
  
  ListFederations(argument: _tributary_v1_ListFederationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  ListFederations(argument: _tributary_v1_ListFederationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  ListFederations(argument: _tributary_v1_ListFederationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  ListFederations(argument: _tributary_v1_ListFederationsRequest, callback: grpc.requestCallback<_tributary_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  listFederations(argument: _tributary_v1_ListFederationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  listFederations(argument: _tributary_v1_ListFederationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  listFederations(argument: _tributary_v1_ListFederationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  listFederations(argument: _tributary_v1_ListFederationsRequest, callback: grpc.requestCallback<_tributary_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  
  ListGrants(argument: _tributary_v1_ListGrantsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListGrantsResponse__Output>): grpc.ClientUnaryCall;
  ListGrants(argument: _tributary_v1_ListGrantsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListGrantsResponse__Output>): grpc.ClientUnaryCall;
  ListGrants(argument: _tributary_v1_ListGrantsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListGrantsResponse__Output>): grpc.ClientUnaryCall;
  ListGrants(argument: _tributary_v1_ListGrantsRequest, callback: grpc.requestCallback<_tributary_v1_ListGrantsResponse__Output>): grpc.ClientUnaryCall;
  listGrants(argument: _tributary_v1_ListGrantsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListGrantsResponse__Output>): grpc.ClientUnaryCall;
  listGrants(argument: _tributary_v1_ListGrantsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListGrantsResponse__Output>): grpc.ClientUnaryCall;
  listGrants(argument: _tributary_v1_ListGrantsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListGrantsResponse__Output>): grpc.ClientUnaryCall;
  listGrants(argument: _tributary_v1_ListGrantsRequest, callback: grpc.requestCallback<_tributary_v1_ListGrantsResponse__Output>): grpc.ClientUnaryCall;
  
  ListInvitations(argument: _tributary_v1_ListInvitationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListInvitationsResponse__Output>): grpc.ClientUnaryCall;
  ListInvitations(argument: _tributary_v1_ListInvitationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListInvitationsResponse__Output>): grpc.ClientUnaryCall;
  ListInvitations(argument: _tributary_v1_ListInvitationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListInvitationsResponse__Output>): grpc.ClientUnaryCall;
  ListInvitations(argument: _tributary_v1_ListInvitationsRequest, callback: grpc.requestCallback<_tributary_v1_ListInvitationsResponse__Output>): grpc.ClientUnaryCall;
  listInvitations(argument: _tributary_v1_ListInvitationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListInvitationsResponse__Output>): grpc.ClientUnaryCall;
  listInvitations(argument: _tributary_v1_ListInvitationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListInvitationsResponse__Output>): grpc.ClientUnaryCall;
  listInvitations(argument: _tributary_v1_ListInvitationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListInvitationsResponse__Output>): grpc.ClientUnaryCall;
  listInvitations(argument: _tributary_v1_ListInvitationsRequest, callback: grpc.requestCallback<_tributary_v1_ListInvitationsResponse__Output>): grpc.ClientUnaryCall;
  
  ListModelVersions(argument: _tributary_v1_ListModelVersionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListModelVersionsResponse__Output>): grpc.ClientUnaryCall;
  ListModelVersions(argument: _tributary_v1_ListModelVersionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListModelVersionsResponse__Output>): grpc.ClientUnaryCall;
  ListModelVersions(argument: _tributary_v1_ListModelVersionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListModelVersionsResponse__Output>): grpc.ClientUnaryCall;
  ListModelVersions(argument: _tributary_v1_ListModelVersionsRequest, callback: grpc.requestCallback<_tributary_v1_ListModelVersionsResponse__Output>): grpc.ClientUnaryCall;
  listModelVersions(argument: _tributary_v1_ListModelVersionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListModelVersionsResponse__Output>): grpc.ClientUnaryCall;
  listModelVersions(argument: _tributary_v1_ListModelVersionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListModelVersionsResponse__Output>): grpc.ClientUnaryCall;
  listModelVersions(argument: _tributary_v1_ListModelVersionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListModelVersionsResponse__Output>): grpc.ClientUnaryCall;
  listModelVersions(argument: _tributary_v1_ListModelVersionsRequest, callback: grpc.requestCallback<_tributary_v1_ListModelVersionsResponse__Output>): grpc.ClientUnaryCall;
  
  ListPrincipals(argument: _tributary_v1_ListPrincipalsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListPrincipalsResponse__Output>): grpc.ClientUnaryCall;
  ListPrincipals(argument: _tributary_v1_ListPrincipalsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListPrincipalsResponse__Output>): grpc.ClientUnaryCall;
  ListPrincipals(argument: _tributary_v1_ListPrincipalsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListPrincipalsResponse__Output>): grpc.ClientUnaryCall;
  ListPrincipals(argument: _tributary_v1_ListPrincipalsRequest, callback: grpc.requestCallback<_tributary_v1_ListPrincipalsResponse__Output>): grpc.ClientUnaryCall;
  listPrincipals(argument: _tributary_v1_ListPrincipalsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListPrincipalsResponse__Output>): grpc.ClientUnaryCall;
  listPrincipals(argument: _tributary_v1_ListPrincipalsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListPrincipalsResponse__Output>): grpc.ClientUnaryCall;
  listPrincipals(argument: _tributary_v1_ListPrincipalsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListPrincipalsResponse__Output>): grpc.ClientUnaryCall;
  listPrincipals(argument: _tributary_v1_ListPrincipalsRequest, callback: grpc.requestCallback<_tributary_v1_ListPrincipalsResponse__Output>): grpc.ClientUnaryCall;
  
  ListRounds(argument: _tributary_v1_ListRoundsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  ListRounds(argument: _tributary_v1_ListRoundsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  ListRounds(argument: _tributary_v1_ListRoundsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  ListRounds(argument: _tributary_v1_ListRoundsRequest, callback: grpc.requestCallback<_tributary_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  listRounds(argument: _tributary_v1_ListRoundsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  listRounds(argument: _tributary_v1_ListRoundsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  listRounds(argument: _tributary_v1_ListRoundsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  listRounds(argument: _tributary_v1_ListRoundsRequest, callback: grpc.requestCallback<_tributary_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  
  ListRuns(argument: _tributary_v1_ListRunsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  ListRuns(argument: _tributary_v1_ListRunsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  ListRuns(argument: _tributary_v1_ListRunsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  ListRuns(argument: _tributary_v1_ListRunsRequest, callback: grpc.requestCallback<_tributary_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  listRuns(argument: _tributary_v1_ListRunsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  listRuns(argument: _tributary_v1_ListRunsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  listRuns(argument: _tributary_v1_ListRunsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  listRuns(argument: _tributary_v1_ListRunsRequest, callback: grpc.requestCallback<_tributary_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  
  ListSites(argument: _tributary_v1_ListSitesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  ListSites(argument: _tributary_v1_ListSitesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  ListSites(argument: _tributary_v1_ListSitesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  ListSites(argument: _tributary_v1_ListSitesRequest, callback: grpc.requestCallback<_tributary_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  listSites(argument: _tributary_v1_ListSitesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  listSites(argument: _tributary_v1_ListSitesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  listSites(argument: _tributary_v1_ListSitesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  listSites(argument: _tributary_v1_ListSitesRequest, callback: grpc.requestCallback<_tributary_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  
  RemoveSite(argument: _tributary_v1_RemoveSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RemoveSite(argument: _tributary_v1_RemoveSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RemoveSite(argument: _tributary_v1_RemoveSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RemoveSite(argument: _tributary_v1_RemoveSiteRequest, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  removeSite(argument: _tributary_v1_RemoveSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  removeSite(argument: _tributary_v1_RemoveSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  removeSite(argument: _tributary_v1_RemoveSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  removeSite(argument: _tributary_v1_RemoveSiteRequest, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  
  RestoreSite(argument: _tributary_v1_RestoreSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RestoreSite(argument: _tributary_v1_RestoreSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RestoreSite(argument: _tributary_v1_RestoreSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RestoreSite(argument: _tributary_v1_RestoreSiteRequest, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  restoreSite(argument: _tributary_v1_RestoreSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  restoreSite(argument: _tributary_v1_RestoreSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  restoreSite(argument: _tributary_v1_RestoreSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  restoreSite(argument: _tributary_v1_RestoreSiteRequest, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  
  RevokeInvitation(argument: _tributary_v1_RevokeInvitationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  RevokeInvitation(argument: _tributary_v1_RevokeInvitationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  RevokeInvitation(argument: _tributary_v1_RevokeInvitationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  RevokeInvitation(argument: _tributary_v1_RevokeInvitationRequest, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  revokeInvitation(argument: _tributary_v1_RevokeInvitationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  revokeInvitation(argument: _tributary_v1_RevokeInvitationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  revokeInvitation(argument: _tributary_v1_RevokeInvitationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  revokeInvitation(argument: _tributary_v1_RevokeInvitationRequest, callback: grpc.requestCallback<_tributary_v1_Invitation__Output>): grpc.ClientUnaryCall;
  
  RevokePrivilege(argument: _tributary_v1_RevokePrivilegeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  RevokePrivilege(argument: _tributary_v1_RevokePrivilegeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  RevokePrivilege(argument: _tributary_v1_RevokePrivilegeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  RevokePrivilege(argument: _tributary_v1_RevokePrivilegeRequest, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  revokePrivilege(argument: _tributary_v1_RevokePrivilegeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  revokePrivilege(argument: _tributary_v1_RevokePrivilegeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  revokePrivilege(argument: _tributary_v1_RevokePrivilegeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  revokePrivilege(argument: _tributary_v1_RevokePrivilegeRequest, callback: grpc.requestCallback<_tributary_v1_Grant__Output>): grpc.ClientUnaryCall;
  
  RevokeSite(argument: _tributary_v1_RevokeSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RevokeSite(argument: _tributary_v1_RevokeSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RevokeSite(argument: _tributary_v1_RevokeSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  RevokeSite(argument: _tributary_v1_RevokeSiteRequest, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  revokeSite(argument: _tributary_v1_RevokeSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  revokeSite(argument: _tributary_v1_RevokeSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  revokeSite(argument: _tributary_v1_RevokeSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  revokeSite(argument: _tributary_v1_RevokeSiteRequest, callback: grpc.requestCallback<_tributary_v1_Site__Output>): grpc.ClientUnaryCall;
  
  RotatePrincipalKey(argument: _tributary_v1_RotatePrincipalKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  RotatePrincipalKey(argument: _tributary_v1_RotatePrincipalKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  RotatePrincipalKey(argument: _tributary_v1_RotatePrincipalKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  RotatePrincipalKey(argument: _tributary_v1_RotatePrincipalKeyRequest, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  rotatePrincipalKey(argument: _tributary_v1_RotatePrincipalKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  rotatePrincipalKey(argument: _tributary_v1_RotatePrincipalKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  rotatePrincipalKey(argument: _tributary_v1_RotatePrincipalKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  rotatePrincipalKey(argument: _tributary_v1_RotatePrincipalKeyRequest, callback: grpc.requestCallback<_tributary_v1_Principal__Output>): grpc.ClientUnaryCall;
  
  SearchRuns(argument: _tributary_v1_SearchRunsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_SearchRunsResponse__Output>): grpc.ClientUnaryCall;
  SearchRuns(argument: _tributary_v1_SearchRunsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_SearchRunsResponse__Output>): grpc.ClientUnaryCall;
  SearchRuns(argument: _tributary_v1_SearchRunsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_SearchRunsResponse__Output>): grpc.ClientUnaryCall;
  SearchRuns(argument: _tributary_v1_SearchRunsRequest, callback: grpc.requestCallback<_tributary_v1_SearchRunsResponse__Output>): grpc.ClientUnaryCall;
  searchRuns(argument: _tributary_v1_SearchRunsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_SearchRunsResponse__Output>): grpc.ClientUnaryCall;
  searchRuns(argument: _tributary_v1_SearchRunsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_SearchRunsResponse__Output>): grpc.ClientUnaryCall;
  searchRuns(argument: _tributary_v1_SearchRunsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_SearchRunsResponse__Output>): grpc.ClientUnaryCall;
  searchRuns(argument: _tributary_v1_SearchRunsRequest, callback: grpc.requestCallback<_tributary_v1_SearchRunsResponse__Output>): grpc.ClientUnaryCall;
  
  StartRun(argument: _tributary_v1_StartRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  StartRun(argument: _tributary_v1_StartRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  StartRun(argument: _tributary_v1_StartRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  StartRun(argument: _tributary_v1_StartRunRequest, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  startRun(argument: _tributary_v1_StartRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  startRun(argument: _tributary_v1_StartRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  startRun(argument: _tributary_v1_StartRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  startRun(argument: _tributary_v1_StartRunRequest, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  
  StopRun(argument: _tributary_v1_StopRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  StopRun(argument: _tributary_v1_StopRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  StopRun(argument: _tributary_v1_StopRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  StopRun(argument: _tributary_v1_StopRunRequest, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  stopRun(argument: _tributary_v1_StopRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  stopRun(argument: _tributary_v1_StopRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  stopRun(argument: _tributary_v1_StopRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  stopRun(argument: _tributary_v1_StopRunRequest, callback: grpc.requestCallback<_tributary_v1_Run__Output>): grpc.ClientUnaryCall;
  
  UpdateFederation(argument: _tributary_v1_UpdateFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  UpdateFederation(argument: _tributary_v1_UpdateFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  UpdateFederation(argument: _tributary_v1_UpdateFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  UpdateFederation(argument: _tributary_v1_UpdateFederationRequest, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  updateFederation(argument: _tributary_v1_UpdateFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  updateFederation(argument: _tributary_v1_UpdateFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  updateFederation(argument: _tributary_v1_UpdateFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  updateFederation(argument: _tributary_v1_UpdateFederationRequest, callback: grpc.requestCallback<_tributary_v1_Federation__Output>): grpc.ClientUnaryCall;
  
  VerifyAuditLog(argument: _tributary_v1_VerifyAuditLogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_AuditVerification__Output>): grpc.ClientUnaryCall;
  VerifyAuditLog(argument: _tributary_v1_VerifyAuditLogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_AuditVerification__Output>): grpc.ClientUnaryCall;
  VerifyAuditLog(argument: _tributary_v1_VerifyAuditLogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_AuditVerification__Output>): grpc.ClientUnaryCall;
  VerifyAuditLog(argument: _tributary_v1_VerifyAuditLogRequest, callback: grpc.requestCallback<_tributary_v1_AuditVerification__Output>): grpc.ClientUnaryCall;
  verifyAuditLog(argument: _tributary_v1_VerifyAuditLogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_AuditVerification__Output>): grpc.ClientUnaryCall;
  verifyAuditLog(argument: _tributary_v1_VerifyAuditLogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_AuditVerification__Output>): grpc.ClientUnaryCall;
  verifyAuditLog(argument: _tributary_v1_VerifyAuditLogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_AuditVerification__Output>): grpc.ClientUnaryCall;
  verifyAuditLog(argument: _tributary_v1_VerifyAuditLogRequest, callback: grpc.requestCallback<_tributary_v1_AuditVerification__Output>): grpc.ClientUnaryCall;
  
  WatchMetrics(argument: _tributary_v1_WatchMetricsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_MetricEvent__Output>;
  WatchMetrics(argument: _tributary_v1_WatchMetricsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_MetricEvent__Output>;
  watchMetrics(argument: _tributary_v1_WatchMetricsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_MetricEvent__Output>;
  watchMetrics(argument: _tributary_v1_WatchMetricsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_MetricEvent__Output>;
  
  WatchRun(argument: _tributary_v1_WatchRunRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_RunEvent__Output>;
  WatchRun(argument: _tributary_v1_WatchRunRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_RunEvent__Output>;
  watchRun(argument: _tributary_v1_WatchRunRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_RunEvent__Output>;
  watchRun(argument: _tributary_v1_WatchRunRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_RunEvent__Output>;
  
}

export interface AdminServiceHandlers extends grpc.UntypedServiceImplementation {
  AddPrincipal: grpc.handleUnaryCall<_tributary_v1_AddPrincipalRequest__Output, _tributary_v1_Principal>;
  
  AddSite: grpc.handleUnaryCall<_tributary_v1_AddSiteRequest__Output, _tributary_v1_Site>;
  
  CollectGarbage: grpc.handleUnaryCall<_tributary_v1_CollectGarbageRequest__Output, _tributary_v1_CollectGarbageResponse>;
  
  CreateDashboardSession: grpc.handleUnaryCall<_tributary_v1_CreateDashboardSessionRequest__Output, _tributary_v1_DashboardLogin>;
  
  CreateFederation: grpc.handleClientStreamingCall<_tributary_v1_CreateFederationPart__Output, _tributary_v1_Federation>;
  
  CreateInvitation: grpc.handleUnaryCall<_tributary_v1_CreateInvitationRequest__Output, _tributary_v1_Invitation>;
  
  DeleteFederation: grpc.handleUnaryCall<_tributary_v1_DeleteFederationRequest__Output, _tributary_v1_DeleteFederationResponse>;
  
  DisablePrincipal: grpc.handleUnaryCall<_tributary_v1_DisablePrincipalRequest__Output, _tributary_v1_Principal>;
  
  DownloadModel: grpc.handleServerStreamingCall<_tributary_v1_DownloadModelRequest__Output, _tributary_v1_ModelChunk>;
  
  GetFederation: grpc.handleUnaryCall<_tributary_v1_GetFederationRequest__Output, _tributary_v1_Federation>;
  
  GetMetricHistory: grpc.handleUnaryCall<_tributary_v1_GetMetricHistoryRequest__Output, _tributary_v1_GetMetricHistoryResponse>;
  
  GetRound: grpc.handleUnaryCall<_tributary_v1_GetRoundRequest__Output, _tributary_v1_Round>;
  
  GetRun: grpc.handleUnaryCall<_tributary_v1_GetRunRequest__Output, _tributary_v1_Run>;
  
  GrantPrivilege: grpc.handleUnaryCall<_tributary_v1_GrantPrivilegeRequest__Output, _tributary_v1_Grant>;
  
  IssueSiteNatsCredentials: grpc.handleUnaryCall<_tributary_v1_IssueSiteNatsCredentialsRequest__Output, _tributary_v1_NatsCredentials>;
  
  JoinAggregation: grpc.handleUnaryCall<_tributary_v1_JoinAggregationRequest__Output, _tributary_v1_AggregationCredentials>;
  
  ListAuditEntries: grpc.handleServerStreamingCall<_tributary_v1_ListAuditEntriesRequest__Output, _tributary_v1_AuditEntry>;
  
  ListFederations: grpc.handleUnaryCall<_tributary_v1_ListFederationsRequest__Output, _tributary_v1_ListFederationsResponse>;
  
  ListGrants: grpc.handleUnaryCall<_tributary_v1_ListGrantsRequest__Output, _tributary_v1_ListGrantsResponse>;
  
  ListInvitations: grpc.handleUnaryCall<_tributary_v1_ListInvitationsRequest__Output, _tributary_v1_ListInvitationsResponse>;
  
  ListModelVersions: grpc.handleUnaryCall<_tributary_v1_ListModelVersionsRequest__Output, _tributary_v1_ListModelVersionsResponse>;
  
  ListPrincipals: grpc.handleUnaryCall<_tributary_v1_ListPrincipalsRequest__Output, _tributary_v1_ListPrincipalsResponse>;
  
  ListRounds: grpc.handleUnaryCall<_tributary_v1_ListRoundsRequest__Output, _tributary_v1_ListRoundsResponse>;
  
  ListRuns: grpc.handleUnaryCall<_tributary_v1_ListRunsRequest__Output, _tributary_v1_ListRunsResponse>;
  
  ListSites: grpc.handleUnaryCall<_tributary_v1_ListSitesRequest__Output, _tributary_v1_ListSitesResponse>;
  
  RemoveSite: grpc.handleUnaryCall<_tributary_v1_RemoveSiteRequest__Output, _tributary_v1_Site>;
  
  RestoreSite: grpc.handleUnaryCall<_tributary_v1_RestoreSiteRequest__Output, _tributary_v1_Site>;
  
  RevokeInvitation: grpc.handleUnaryCall<_tributary_v1_RevokeInvitationRequest__Output, _tributary_v1_Invitation>;
  
  RevokePrivilege: grpc.handleUnaryCall<_tributary_v1_RevokePrivilegeRequest__Output, _tributary_v1_Grant>;
  
  RevokeSite: grpc.handleUnaryCall<_tributary_v1_RevokeSiteRequest__Output, _tributary_v1_Site>;
  
  RotatePrincipalKey: grpc.handleUnaryCall<_tributary_v1_RotatePrincipalKeyRequest__Output, _tributary_v1_Principal>;
  
  SearchRuns: grpc.handleUnaryCall<_tributary_v1_SearchRunsRequest__Output, _tributary_v1_SearchRunsResponse>;
  
  StartRun: grpc.handleUnaryCall<_tributary_v1_StartRunRequest__Output, _tributary_v1_Run>;
  
  StopRun: grpc.handleUnaryCall<_tributary_v1_StopRunRequest__Output, _tributary_v1_Run>;
  
  UpdateFederation: grpc.handleUnaryCall<_tributary_v1_UpdateFederationRequest__Output, _tributary_v1_Federation>;
  
  VerifyAuditLog: grpc.handleUnaryCall<_tributary_v1_VerifyAuditLogRequest__Output, _tributary_v1_AuditVerification>;
  
  WatchMetrics: grpc.handleServerStreamingCall<_tributary_v1_WatchMetricsRequest__Output, _tributary_v1_MetricEvent>;
  
  WatchRun: grpc.handleServerStreamingCall<_tributary_v1_WatchRunRequest__Output, _tributary_v1_RunEvent>;
  
}

export interface AdminServiceDefinition extends grpc.ServiceDefinition {
  AddPrincipal: MethodDefinition<_tributary_v1_AddPrincipalRequest, _tributary_v1_Principal, _tributary_v1_AddPrincipalRequest__Output, _tributary_v1_Principal__Output>
  AddSite: MethodDefinition<_tributary_v1_AddSiteRequest, _tributary_v1_Site, _tributary_v1_AddSiteRequest__Output, _tributary_v1_Site__Output>
  CollectGarbage: MethodDefinition<_tributary_v1_CollectGarbageRequest, _tributary_v1_CollectGarbageResponse, _tributary_v1_CollectGarbageRequest__Output, _tributary_v1_CollectGarbageResponse__Output>
  CreateDashboardSession: MethodDefinition<_tributary_v1_CreateDashboardSessionRequest, _tributary_v1_DashboardLogin, _tributary_v1_CreateDashboardSessionRequest__Output, _tributary_v1_DashboardLogin__Output>
  CreateFederation: MethodDefinition<_tributary_v1_CreateFederationPart, _tributary_v1_Federation, _tributary_v1_CreateFederationPart__Output, _tributary_v1_Federation__Output>
  CreateInvitation: MethodDefinition<_tributary_v1_CreateInvitationRequest, _tributary_v1_Invitation, _tributary_v1_CreateInvitationRequest__Output, _tributary_v1_Invitation__Output>
  DeleteFederation: MethodDefinition<_tributary_v1_DeleteFederationRequest, _tributary_v1_DeleteFederationResponse, _tributary_v1_DeleteFederationRequest__Output, _tributary_v1_DeleteFederationResponse__Output>
  DisablePrincipal: MethodDefinition<_tributary_v1_DisablePrincipalRequest, _tributary_v1_Principal, _tributary_v1_DisablePrincipalRequest__Output, _tributary_v1_Principal__Output>
  DownloadModel: MethodDefinition<_tributary_v1_DownloadModelRequest, _tributary_v1_ModelChunk, _tributary_v1_DownloadModelRequest__Output, _tributary_v1_ModelChunk__Output>
  GetFederation: MethodDefinition<_tributary_v1_GetFederationRequest, _tributary_v1_Federation, _tributary_v1_GetFederationRequest__Output, _tributary_v1_Federation__Output>
  GetMetricHistory: MethodDefinition<_tributary_v1_GetMetricHistoryRequest, _tributary_v1_GetMetricHistoryResponse, _tributary_v1_GetMetricHistoryRequest__Output, _tributary_v1_GetMetricHistoryResponse__Output>
  GetRound: MethodDefinition<_tributary_v1_GetRoundRequest, _tributary_v1_Round, _tributary_v1_GetRoundRequest__Output, _tributary_v1_Round__Output>
  GetRun: MethodDefinition<_tributary_v1_GetRunRequest, _tributary_v1_Run, _tributary_v1_GetRunRequest__Output, _tributary_v1_Run__Output>
  GrantPrivilege: MethodDefinition<_tributary_v1_GrantPrivilegeRequest, _tributary_v1_Grant, _tributary_v1_GrantPrivilegeRequest__Output, _tributary_v1_Grant__Output>
  IssueSiteNatsCredentials: MethodDefinition<_tributary_v1_IssueSiteNatsCredentialsRequest, _tributary_v1_NatsCredentials, _tributary_v1_IssueSiteNatsCredentialsRequest__Output, _tributary_v1_NatsCredentials__Output>
  JoinAggregation: MethodDefinition<_tributary_v1_JoinAggregationRequest, _tributary_v1_AggregationCredentials, _tributary_v1_JoinAggregationRequest__Output, _tributary_v1_AggregationCredentials__Output>
  ListAuditEntries: MethodDefinition<_tributary_v1_ListAuditEntriesRequest, _tributary_v1_AuditEntry, _tributary_v1_ListAuditEntriesRequest__Output, _tributary_v1_AuditEntry__Output>
  ListFederations: MethodDefinition<_tributary_v1_ListFederationsRequest, _tributary_v1_ListFederationsResponse, _tributary_v1_ListFederationsRequest__Output, _tributary_v1_ListFederationsResponse__Output>
  ListGrants: MethodDefinition<_tributary_v1_ListGrantsRequest, _tributary_v1_ListGrantsResponse, _tributary_v1_ListGrantsRequest__Output, _tributary_v1_ListGrantsResponse__Output>
  ListInvitations: MethodDefinition<_tributary_v1_ListInvitationsRequest, _tributary_v1_ListInvitationsResponse, _tributary_v1_ListInvitationsRequest__Output, _tributary_v1_ListInvitationsResponse__Output>
  ListModelVersions: MethodDefinition<_tributary_v1_ListModelVersionsRequest, _tributary_v1_ListModelVersionsResponse, _tributary_v1_ListModelVersionsRequest__Output, _tributary_v1_ListModelVersionsResponse__Output>
  ListPrincipals: MethodDefinition<_tributary_v1_ListPrincipalsRequest, _tributary_v1_ListPrincipalsResponse, _tributary_v1_ListPrincipalsRequest__Output, _tributary_v1_ListPrincipalsResponse__Output>
  ListRounds: MethodDefinition<_tributary_v1_ListRoundsRequest, _tributary_v1_ListRoundsResponse, _tributary_v1_ListRoundsRequest__Output, _tributary_v1_ListRoundsResponse__Output>
  ListRuns: MethodDefinition<_tributary_v1_ListRunsRequest, _tributary_v1_ListRunsResponse, _tributary_v1_ListRunsRequest__Output, _tributary_v1_ListRunsResponse__Output>
  ListSites: MethodDefinition<_tributary_v1_ListSitesRequest, _tributary_v1_ListSitesResponse, _tributary_v1_ListSitesRequest__Output, _tributary_v1_ListSitesResponse__Output>
  RemoveSite: MethodDefinition<_tributary_v1_RemoveSiteRequest, _tributary_v1_Site, _tributary_v1_RemoveSiteRequest__Output, _tributary_v1_Site__Output>
  RestoreSite: MethodDefinition<_tributary_v1_RestoreSiteRequest, _tributary_v1_Site, _tributary_v1_RestoreSiteRequest__Output, _tributary_v1_Site__Output>
  RevokeInvitation: MethodDefinition<_tributary_v1_RevokeInvitationRequest, _tributary_v1_Invitation, _tributary_v1_RevokeInvitationRequest__Output, _tributary_v1_Invitation__Output>
  RevokePrivilege: MethodDefinition<_tributary_v1_RevokePrivilegeRequest, _tributary_v1_Grant, _tributary_v1_RevokePrivilegeRequest__Output, _tributary_v1_Grant__Output>
  RevokeSite: MethodDefinition<_tributary_v1_RevokeSiteRequest, _tributary_v1_Site, _tributary_v1_RevokeSiteRequest__Output, _tributary_v1_Site__Output>
  RotatePrincipalKey: MethodDefinition<_tributary_v1_RotatePrincipalKeyRequest, _tributary_v1_Principal, _tributary_v1_RotatePrincipalKeyRequest__Output, _tributary_v1_Principal__Output>
  SearchRuns: MethodDefinition<_tributary_v1_SearchRunsRequest, _tributary_v1_SearchRunsResponse, _tributary_v1_SearchRunsRequest__Output, _tributary_v1_SearchRunsResponse__Output>
  StartRun: MethodDefinition<_tributary_v1_StartRunRequest, _tributary_v1_Run, _tributary_v1_StartRunRequest__Output, _tributary_v1_Run__Output>
  StopRun: MethodDefinition<_tributary_v1_StopRunRequest, _tributary_v1_Run, _tributary_v1_StopRunRequest__Output, _tributary_v1_Run__Output>
  UpdateFederation: MethodDefinition<_tributary_v1_UpdateFederationRequest, _tributary_v1_Federation, _tributary_v1_UpdateFederationRequest__Output, _tributary_v1_Federation__Output>
  VerifyAuditLog: MethodDefinition<_tributary_v1_VerifyAuditLogRequest, _tributary_v1_AuditVerification, _tributary_v1_VerifyAuditLogRequest__Output, _tributary_v1_AuditVerification__Output>
  WatchMetrics: MethodDefinition<_tributary_v1_WatchMetricsRequest, _tributary_v1_MetricEvent, _tributary_v1_WatchMetricsRequest__Output, _tributary_v1_MetricEvent__Output>
  WatchRun: MethodDefinition<_tributary_v1_WatchRunRequest, _tributary_v1_RunEvent, _tributary_v1_WatchRunRequest__Output, _tributary_v1_RunEvent__Output>
}
