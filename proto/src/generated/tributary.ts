import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AddPrincipalRequest as _tributary_v1_AddPrincipalRequest, AddPrincipalRequest__Output as _tributary_v1_AddPrincipalRequest__Output } from './tributary/v1/AddPrincipalRequest.js';
import type { AddSiteRequest as _tributary_v1_AddSiteRequest, AddSiteRequest__Output as _tributary_v1_AddSiteRequest__Output } from './tributary/v1/AddSiteRequest.js';
import type { AdminServiceClient as _tributary_v1_AdminServiceClient, AdminServiceDefinition as _tributary_v1_AdminServiceDefinition } from './tributary/v1/AdminService.js';
import type { AggregationCredentials as _tributary_v1_AggregationCredentials, AggregationCredentials__Output as _tributary_v1_AggregationCredentials__Output } from './tributary/v1/AggregationCredentials.js';
import type { AuditBreak as _tributary_v1_AuditBreak, AuditBreak__Output as _tributary_v1_AuditBreak__Output } from './tributary/v1/AuditBreak.js';
import type { AuditEntry as _tributary_v1_AuditEntry, AuditEntry__Output as _tributary_v1_AuditEntry__Output } from './tributary/v1/AuditEntry.js';
import type { AuditVerification as _tributary_v1_AuditVerification, AuditVerification__Output as _tributary_v1_AuditVerification__Output } from './tributary/v1/AuditVerification.js';
import type { CollectGarbageRequest as _tributary_v1_CollectGarbageRequest, CollectGarbageRequest__Output as _tributary_v1_CollectGarbageRequest__Output } from './tributary/v1/CollectGarbageRequest.js';
import type { CollectGarbageResponse as _tributary_v1_CollectGarbageResponse, CollectGarbageResponse__Output as _tributary_v1_CollectGarbageResponse__Output } from './tributary/v1/CollectGarbageResponse.js';
import type { CreateDashboardSessionRequest as _tributary_v1_CreateDashboardSessionRequest, CreateDashboardSessionRequest__Output as _tributary_v1_CreateDashboardSessionRequest__Output } from './tributary/v1/CreateDashboardSessionRequest.js';
import type { CreateFederationPart as _tributary_v1_CreateFederationPart, CreateFederationPart__Output as _tributary_v1_CreateFederationPart__Output } from './tributary/v1/CreateFederationPart.js';
import type { CreateFederationRequest as _tributary_v1_CreateFederationRequest, CreateFederationRequest__Output as _tributary_v1_CreateFederationRequest__Output } from './tributary/v1/CreateFederationRequest.js';
import type { CreateInvitationRequest as _tributary_v1_CreateInvitationRequest, CreateInvitationRequest__Output as _tributary_v1_CreateInvitationRequest__Output } from './tributary/v1/CreateInvitationRequest.js';
import type { DashboardLogin as _tributary_v1_DashboardLogin, DashboardLogin__Output as _tributary_v1_DashboardLogin__Output } from './tributary/v1/DashboardLogin.js';
import type { DatasetDescriptor as _tributary_v1_DatasetDescriptor, DatasetDescriptor__Output as _tributary_v1_DatasetDescriptor__Output } from './tributary/v1/DatasetDescriptor.js';
import type { DeleteFederationRequest as _tributary_v1_DeleteFederationRequest, DeleteFederationRequest__Output as _tributary_v1_DeleteFederationRequest__Output } from './tributary/v1/DeleteFederationRequest.js';
import type { DeleteFederationResponse as _tributary_v1_DeleteFederationResponse, DeleteFederationResponse__Output as _tributary_v1_DeleteFederationResponse__Output } from './tributary/v1/DeleteFederationResponse.js';
import type { DisablePrincipalRequest as _tributary_v1_DisablePrincipalRequest, DisablePrincipalRequest__Output as _tributary_v1_DisablePrincipalRequest__Output } from './tributary/v1/DisablePrincipalRequest.js';
import type { DownloadModelRequest as _tributary_v1_DownloadModelRequest, DownloadModelRequest__Output as _tributary_v1_DownloadModelRequest__Output } from './tributary/v1/DownloadModelRequest.js';
import type { EnrollRequest as _tributary_v1_EnrollRequest, EnrollRequest__Output as _tributary_v1_EnrollRequest__Output } from './tributary/v1/EnrollRequest.js';
import type { EnrollResponse as _tributary_v1_EnrollResponse, EnrollResponse__Output as _tributary_v1_EnrollResponse__Output } from './tributary/v1/EnrollResponse.js';
import type { Federation as _tributary_v1_Federation, Federation__Output as _tributary_v1_Federation__Output } from './tributary/v1/Federation.js';
import type { FederationSettings as _tributary_v1_FederationSettings, FederationSettings__Output as _tributary_v1_FederationSettings__Output } from './tributary/v1/FederationSettings.js';
import type { FoldJob as _tributary_v1_FoldJob, FoldJob__Output as _tributary_v1_FoldJob__Output } from './tributary/v1/FoldJob.js';
import type { FoldVerdict as _tributary_v1_FoldVerdict, FoldVerdict__Output as _tributary_v1_FoldVerdict__Output } from './tributary/v1/FoldVerdict.js';
import type { GetFederationRequest as _tributary_v1_GetFederationRequest, GetFederationRequest__Output as _tributary_v1_GetFederationRequest__Output } from './tributary/v1/GetFederationRequest.js';
import type { GetMetricHistoryRequest as _tributary_v1_GetMetricHistoryRequest, GetMetricHistoryRequest__Output as _tributary_v1_GetMetricHistoryRequest__Output } from './tributary/v1/GetMetricHistoryRequest.js';
import type { GetMetricHistoryResponse as _tributary_v1_GetMetricHistoryResponse, GetMetricHistoryResponse__Output as _tributary_v1_GetMetricHistoryResponse__Output } from './tributary/v1/GetMetricHistoryResponse.js';
import type { GetNatsCredentialsRequest as _tributary_v1_GetNatsCredentialsRequest, GetNatsCredentialsRequest__Output as _tributary_v1_GetNatsCredentialsRequest__Output } from './tributary/v1/GetNatsCredentialsRequest.js';
import type { GetRoundRequest as _tributary_v1_GetRoundRequest, GetRoundRequest__Output as _tributary_v1_GetRoundRequest__Output } from './tributary/v1/GetRoundRequest.js';
import type { GetRunRequest as _tributary_v1_GetRunRequest, GetRunRequest__Output as _tributary_v1_GetRunRequest__Output } from './tributary/v1/GetRunRequest.js';
import type { GetUpdateStatusRequest as _tributary_v1_GetUpdateStatusRequest, GetUpdateStatusRequest__Output as _tributary_v1_GetUpdateStatusRequest__Output } from './tributary/v1/GetUpdateStatusRequest.js';
import type { Grant as _tributary_v1_Grant, Grant__Output as _tributary_v1_Grant__Output } from './tributary/v1/Grant.js';
import type { GrantPrivilegeRequest as _tributary_v1_GrantPrivilegeRequest, GrantPrivilegeRequest__Output as _tributary_v1_GrantPrivilegeRequest__Output } from './tributary/v1/GrantPrivilegeRequest.js';
import type { HeartbeatRequest as _tributary_v1_HeartbeatRequest, HeartbeatRequest__Output as _tributary_v1_HeartbeatRequest__Output } from './tributary/v1/HeartbeatRequest.js';
import type { HeartbeatResponse as _tributary_v1_HeartbeatResponse, HeartbeatResponse__Output as _tributary_v1_HeartbeatResponse__Output } from './tributary/v1/HeartbeatResponse.js';
import type { Invitation as _tributary_v1_Invitation, Invitation__Output as _tributary_v1_Invitation__Output } from './tributary/v1/Invitation.js';
import type { IssueSiteNatsCredentialsRequest as _tributary_v1_IssueSiteNatsCredentialsRequest, IssueSiteNatsCredentialsRequest__Output as _tributary_v1_IssueSiteNatsCredentialsRequest__Output } from './tributary/v1/IssueSiteNatsCredentialsRequest.js';
import type { JoinAggregationRequest as _tributary_v1_JoinAggregationRequest, JoinAggregationRequest__Output as _tributary_v1_JoinAggregationRequest__Output } from './tributary/v1/JoinAggregationRequest.js';
import type { ListAuditEntriesRequest as _tributary_v1_ListAuditEntriesRequest, ListAuditEntriesRequest__Output as _tributary_v1_ListAuditEntriesRequest__Output } from './tributary/v1/ListAuditEntriesRequest.js';
import type { ListFederationsRequest as _tributary_v1_ListFederationsRequest, ListFederationsRequest__Output as _tributary_v1_ListFederationsRequest__Output } from './tributary/v1/ListFederationsRequest.js';
import type { ListFederationsResponse as _tributary_v1_ListFederationsResponse, ListFederationsResponse__Output as _tributary_v1_ListFederationsResponse__Output } from './tributary/v1/ListFederationsResponse.js';
import type { ListGrantsRequest as _tributary_v1_ListGrantsRequest, ListGrantsRequest__Output as _tributary_v1_ListGrantsRequest__Output } from './tributary/v1/ListGrantsRequest.js';
import type { ListGrantsResponse as _tributary_v1_ListGrantsResponse, ListGrantsResponse__Output as _tributary_v1_ListGrantsResponse__Output } from './tributary/v1/ListGrantsResponse.js';
import type { ListInvitationsRequest as _tributary_v1_ListInvitationsRequest, ListInvitationsRequest__Output as _tributary_v1_ListInvitationsRequest__Output } from './tributary/v1/ListInvitationsRequest.js';
import type { ListInvitationsResponse as _tributary_v1_ListInvitationsResponse, ListInvitationsResponse__Output as _tributary_v1_ListInvitationsResponse__Output } from './tributary/v1/ListInvitationsResponse.js';
import type { ListModelVersionsRequest as _tributary_v1_ListModelVersionsRequest, ListModelVersionsRequest__Output as _tributary_v1_ListModelVersionsRequest__Output } from './tributary/v1/ListModelVersionsRequest.js';
import type { ListModelVersionsResponse as _tributary_v1_ListModelVersionsResponse, ListModelVersionsResponse__Output as _tributary_v1_ListModelVersionsResponse__Output } from './tributary/v1/ListModelVersionsResponse.js';
import type { ListPrincipalsRequest as _tributary_v1_ListPrincipalsRequest, ListPrincipalsRequest__Output as _tributary_v1_ListPrincipalsRequest__Output } from './tributary/v1/ListPrincipalsRequest.js';
import type { ListPrincipalsResponse as _tributary_v1_ListPrincipalsResponse, ListPrincipalsResponse__Output as _tributary_v1_ListPrincipalsResponse__Output } from './tributary/v1/ListPrincipalsResponse.js';
import type { ListRoundsRequest as _tributary_v1_ListRoundsRequest, ListRoundsRequest__Output as _tributary_v1_ListRoundsRequest__Output } from './tributary/v1/ListRoundsRequest.js';
import type { ListRoundsResponse as _tributary_v1_ListRoundsResponse, ListRoundsResponse__Output as _tributary_v1_ListRoundsResponse__Output } from './tributary/v1/ListRoundsResponse.js';
import type { ListRunsRequest as _tributary_v1_ListRunsRequest, ListRunsRequest__Output as _tributary_v1_ListRunsRequest__Output } from './tributary/v1/ListRunsRequest.js';
import type { ListRunsResponse as _tributary_v1_ListRunsResponse, ListRunsResponse__Output as _tributary_v1_ListRunsResponse__Output } from './tributary/v1/ListRunsResponse.js';
import type { ListSitesRequest as _tributary_v1_ListSitesRequest, ListSitesRequest__Output as _tributary_v1_ListSitesRequest__Output } from './tributary/v1/ListSitesRequest.js';
import type { ListSitesResponse as _tributary_v1_ListSitesResponse, ListSitesResponse__Output as _tributary_v1_ListSitesResponse__Output } from './tributary/v1/ListSitesResponse.js';
import type { MetricBatch as _tributary_v1_MetricBatch, MetricBatch__Output as _tributary_v1_MetricBatch__Output } from './tributary/v1/MetricBatch.js';
import type { MetricEvent as _tributary_v1_MetricEvent, MetricEvent__Output as _tributary_v1_MetricEvent__Output } from './tributary/v1/MetricEvent.js';
import type { MetricPoint as _tributary_v1_MetricPoint, MetricPoint__Output as _tributary_v1_MetricPoint__Output } from './tributary/v1/MetricPoint.js';
import type { MetricSeries as _tributary_v1_MetricSeries, MetricSeries__Output as _tributary_v1_MetricSeries__Output } from './tributary/v1/MetricSeries.js';
import type { ModelChunk as _tributary_v1_ModelChunk, ModelChunk__Output as _tributary_v1_ModelChunk__Output } from './tributary/v1/ModelChunk.js';
import type { ModelSpec as _tributary_v1_ModelSpec, ModelSpec__Output as _tributary_v1_ModelSpec__Output } from './tributary/v1/ModelSpec.js';
import type { ModelVersion as _tributary_v1_ModelVersion, ModelVersion__Output as _tributary_v1_ModelVersion__Output } from './tributary/v1/ModelVersion.js';
import type { NatsCredentials as _tributary_v1_NatsCredentials, NatsCredentials__Output as _tributary_v1_NatsCredentials__Output } from './tributary/v1/NatsCredentials.js';
import type { PartialManifest as _tributary_v1_PartialManifest, PartialManifest__Output as _tributary_v1_PartialManifest__Output } from './tributary/v1/PartialManifest.js';
import type { PartialRequest as _tributary_v1_PartialRequest, PartialRequest__Output as _tributary_v1_PartialRequest__Output } from './tributary/v1/PartialRequest.js';
import type { Principal as _tributary_v1_Principal, Principal__Output as _tributary_v1_Principal__Output } from './tributary/v1/Principal.js';
import type { Refusal as _tributary_v1_Refusal, Refusal__Output as _tributary_v1_Refusal__Output } from './tributary/v1/Refusal.js';
import type { RemoveSiteRequest as _tributary_v1_RemoveSiteRequest, RemoveSiteRequest__Output as _tributary_v1_RemoveSiteRequest__Output } from './tributary/v1/RemoveSiteRequest.js';
import type { ReportTaskFailureRequest as _tributary_v1_ReportTaskFailureRequest, ReportTaskFailureRequest__Output as _tributary_v1_ReportTaskFailureRequest__Output } from './tributary/v1/ReportTaskFailureRequest.js';
import type { ReportTaskFailureResponse as _tributary_v1_ReportTaskFailureResponse, ReportTaskFailureResponse__Output as _tributary_v1_ReportTaskFailureResponse__Output } from './tributary/v1/ReportTaskFailureResponse.js';
import type { RestoreSiteRequest as _tributary_v1_RestoreSiteRequest, RestoreSiteRequest__Output as _tributary_v1_RestoreSiteRequest__Output } from './tributary/v1/RestoreSiteRequest.js';
import type { RevokeInvitationRequest as _tributary_v1_RevokeInvitationRequest, RevokeInvitationRequest__Output as _tributary_v1_RevokeInvitationRequest__Output } from './tributary/v1/RevokeInvitationRequest.js';
import type { RevokePrivilegeRequest as _tributary_v1_RevokePrivilegeRequest, RevokePrivilegeRequest__Output as _tributary_v1_RevokePrivilegeRequest__Output } from './tributary/v1/RevokePrivilegeRequest.js';
import type { RevokeSiteRequest as _tributary_v1_RevokeSiteRequest, RevokeSiteRequest__Output as _tributary_v1_RevokeSiteRequest__Output } from './tributary/v1/RevokeSiteRequest.js';
import type { RotatePrincipalKeyRequest as _tributary_v1_RotatePrincipalKeyRequest, RotatePrincipalKeyRequest__Output as _tributary_v1_RotatePrincipalKeyRequest__Output } from './tributary/v1/RotatePrincipalKeyRequest.js';
import type { Round as _tributary_v1_Round, Round__Output as _tributary_v1_Round__Output } from './tributary/v1/Round.js';
import type { Run as _tributary_v1_Run, Run__Output as _tributary_v1_Run__Output } from './tributary/v1/Run.js';
import type { RunEvent as _tributary_v1_RunEvent, RunEvent__Output as _tributary_v1_RunEvent__Output } from './tributary/v1/RunEvent.js';
import type { SearchRunsRequest as _tributary_v1_SearchRunsRequest, SearchRunsRequest__Output as _tributary_v1_SearchRunsRequest__Output } from './tributary/v1/SearchRunsRequest.js';
import type { SearchRunsResponse as _tributary_v1_SearchRunsResponse, SearchRunsResponse__Output as _tributary_v1_SearchRunsResponse__Output } from './tributary/v1/SearchRunsResponse.js';
import type { SignedEnvelope as _tributary_v1_SignedEnvelope, SignedEnvelope__Output as _tributary_v1_SignedEnvelope__Output } from './tributary/v1/SignedEnvelope.js';
import type { Site as _tributary_v1_Site, Site__Output as _tributary_v1_Site__Output } from './tributary/v1/Site.js';
import type { SiteFailure as _tributary_v1_SiteFailure, SiteFailure__Output as _tributary_v1_SiteFailure__Output } from './tributary/v1/SiteFailure.js';
import type { SiteServiceClient as _tributary_v1_SiteServiceClient, SiteServiceDefinition as _tributary_v1_SiteServiceDefinition } from './tributary/v1/SiteService.js';
import type { StartRunRequest as _tributary_v1_StartRunRequest, StartRunRequest__Output as _tributary_v1_StartRunRequest__Output } from './tributary/v1/StartRunRequest.js';
import type { StopRunRequest as _tributary_v1_StopRunRequest, StopRunRequest__Output as _tributary_v1_StopRunRequest__Output } from './tributary/v1/StopRunRequest.js';
import type { Task as _tributary_v1_Task, Task__Output as _tributary_v1_Task__Output } from './tributary/v1/Task.js';
import type { TensorSpec as _tributary_v1_TensorSpec, TensorSpec__Output as _tributary_v1_TensorSpec__Output } from './tributary/v1/TensorSpec.js';
import type { TrackedRun as _tributary_v1_TrackedRun, TrackedRun__Output as _tributary_v1_TrackedRun__Output } from './tributary/v1/TrackedRun.js';
import type { UpdateFederationRequest as _tributary_v1_UpdateFederationRequest, UpdateFederationRequest__Output as _tributary_v1_UpdateFederationRequest__Output } from './tributary/v1/UpdateFederationRequest.js';
import type { UpdateManifest as _tributary_v1_UpdateManifest, UpdateManifest__Output as _tributary_v1_UpdateManifest__Output } from './tributary/v1/UpdateManifest.js';
import type { UpdateStatus as _tributary_v1_UpdateStatus, UpdateStatus__Output as _tributary_v1_UpdateStatus__Output } from './tributary/v1/UpdateStatus.js';
import type { UpdateSummary as _tributary_v1_UpdateSummary, UpdateSummary__Output as _tributary_v1_UpdateSummary__Output } from './tributary/v1/UpdateSummary.js';
import type { VerifyAuditLogRequest as _tributary_v1_VerifyAuditLogRequest, VerifyAuditLogRequest__Output as _tributary_v1_VerifyAuditLogRequest__Output } from './tributary/v1/VerifyAuditLogRequest.js';
import type { WatchMetricsRequest as _tributary_v1_WatchMetricsRequest, WatchMetricsRequest__Output as _tributary_v1_WatchMetricsRequest__Output } from './tributary/v1/WatchMetricsRequest.js';
import type { WatchRunRequest as _tributary_v1_WatchRunRequest, WatchRunRequest__Output as _tributary_v1_WatchRunRequest__Output } from './tributary/v1/WatchRunRequest.js';
import type { WatchTasksRequest as _tributary_v1_WatchTasksRequest, WatchTasksRequest__Output as _tributary_v1_WatchTasksRequest__Output } from './tributary/v1/WatchTasksRequest.js';
import type { WhoAmIRequest as _tributary_v1_WhoAmIRequest, WhoAmIRequest__Output as _tributary_v1_WhoAmIRequest__Output } from './tributary/v1/WhoAmIRequest.js';
import type { WhoAmIResponse as _tributary_v1_WhoAmIResponse, WhoAmIResponse__Output as _tributary_v1_WhoAmIResponse__Output } from './tributary/v1/WhoAmIResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tributary: {
    v1: {
      AddPrincipalRequest: MessageTypeDefinition<_tributary_v1_AddPrincipalRequest, _tributary_v1_AddPrincipalRequest__Output>
      AddSiteRequest: MessageTypeDefinition<_tributary_v1_AddSiteRequest, _tributary_v1_AddSiteRequest__Output>
      AdminService: SubtypeConstructor<typeof grpc.Client, _tributary_v1_AdminServiceClient> & { service: _tributary_v1_AdminServiceDefinition }
      AggregationCredentials: MessageTypeDefinition<_tributary_v1_AggregationCredentials, _tributary_v1_AggregationCredentials__Output>
      AuditBreak: MessageTypeDefinition<_tributary_v1_AuditBreak, _tributary_v1_AuditBreak__Output>
      AuditEntry: MessageTypeDefinition<_tributary_v1_AuditEntry, _tributary_v1_AuditEntry__Output>
      AuditVerification: MessageTypeDefinition<_tributary_v1_AuditVerification, _tributary_v1_AuditVerification__Output>
      CollectGarbageRequest: MessageTypeDefinition<_tributary_v1_CollectGarbageRequest, _tributary_v1_CollectGarbageRequest__Output>
      CollectGarbageResponse: MessageTypeDefinition<_tributary_v1_CollectGarbageResponse, _tributary_v1_CollectGarbageResponse__Output>
      CreateDashboardSessionRequest: MessageTypeDefinition<_tributary_v1_CreateDashboardSessionRequest, _tributary_v1_CreateDashboardSessionRequest__Output>
      CreateFederationPart: MessageTypeDefinition<_tributary_v1_CreateFederationPart, _tributary_v1_CreateFederationPart__Output>
      CreateFederationRequest: MessageTypeDefinition<_tributary_v1_CreateFederationRequest, _tributary_v1_CreateFederationRequest__Output>
      CreateInvitationRequest: MessageTypeDefinition<_tributary_v1_CreateInvitationRequest, _tributary_v1_CreateInvitationRequest__Output>
      DashboardLogin: MessageTypeDefinition<_tributary_v1_DashboardLogin, _tributary_v1_DashboardLogin__Output>
      DatasetDescriptor: MessageTypeDefinition<_tributary_v1_DatasetDescriptor, _tributary_v1_DatasetDescriptor__Output>
      DeleteFederationRequest: MessageTypeDefinition<_tributary_v1_DeleteFederationRequest, _tributary_v1_DeleteFederationRequest__Output>
      DeleteFederationResponse: MessageTypeDefinition<_tributary_v1_DeleteFederationResponse, _tributary_v1_DeleteFederationResponse__Output>
      DisablePrincipalRequest: MessageTypeDefinition<_tributary_v1_DisablePrincipalRequest, _tributary_v1_DisablePrincipalRequest__Output>
      DownloadModelRequest: MessageTypeDefinition<_tributary_v1_DownloadModelRequest, _tributary_v1_DownloadModelRequest__Output>
      EnrollRequest: MessageTypeDefinition<_tributary_v1_EnrollRequest, _tributary_v1_EnrollRequest__Output>
      EnrollResponse: MessageTypeDefinition<_tributary_v1_EnrollResponse, _tributary_v1_EnrollResponse__Output>
      EvaluationState: EnumTypeDefinition
      Federation: MessageTypeDefinition<_tributary_v1_Federation, _tributary_v1_Federation__Output>
      FederationSettings: MessageTypeDefinition<_tributary_v1_FederationSettings, _tributary_v1_FederationSettings__Output>
      FoldJob: MessageTypeDefinition<_tributary_v1_FoldJob, _tributary_v1_FoldJob__Output>
      FoldVerdict: MessageTypeDefinition<_tributary_v1_FoldVerdict, _tributary_v1_FoldVerdict__Output>
      GetFederationRequest: MessageTypeDefinition<_tributary_v1_GetFederationRequest, _tributary_v1_GetFederationRequest__Output>
      GetMetricHistoryRequest: MessageTypeDefinition<_tributary_v1_GetMetricHistoryRequest, _tributary_v1_GetMetricHistoryRequest__Output>
      GetMetricHistoryResponse: MessageTypeDefinition<_tributary_v1_GetMetricHistoryResponse, _tributary_v1_GetMetricHistoryResponse__Output>
      GetNatsCredentialsRequest: MessageTypeDefinition<_tributary_v1_GetNatsCredentialsRequest, _tributary_v1_GetNatsCredentialsRequest__Output>
      GetRoundRequest: MessageTypeDefinition<_tributary_v1_GetRoundRequest, _tributary_v1_GetRoundRequest__Output>
      GetRunRequest: MessageTypeDefinition<_tributary_v1_GetRunRequest, _tributary_v1_GetRunRequest__Output>
      GetUpdateStatusRequest: MessageTypeDefinition<_tributary_v1_GetUpdateStatusRequest, _tributary_v1_GetUpdateStatusRequest__Output>
      Grant: MessageTypeDefinition<_tributary_v1_Grant, _tributary_v1_Grant__Output>
      GrantPrivilegeRequest: MessageTypeDefinition<_tributary_v1_GrantPrivilegeRequest, _tributary_v1_GrantPrivilegeRequest__Output>
      HeartbeatRequest: MessageTypeDefinition<_tributary_v1_HeartbeatRequest, _tributary_v1_HeartbeatRequest__Output>
      HeartbeatResponse: MessageTypeDefinition<_tributary_v1_HeartbeatResponse, _tributary_v1_HeartbeatResponse__Output>
      Invitation: MessageTypeDefinition<_tributary_v1_Invitation, _tributary_v1_Invitation__Output>
      IssueSiteNatsCredentialsRequest: MessageTypeDefinition<_tributary_v1_IssueSiteNatsCredentialsRequest, _tributary_v1_IssueSiteNatsCredentialsRequest__Output>
      JoinAggregationRequest: MessageTypeDefinition<_tributary_v1_JoinAggregationRequest, _tributary_v1_JoinAggregationRequest__Output>
      ListAuditEntriesRequest: MessageTypeDefinition<_tributary_v1_ListAuditEntriesRequest, _tributary_v1_ListAuditEntriesRequest__Output>
      ListFederationsRequest: MessageTypeDefinition<_tributary_v1_ListFederationsRequest, _tributary_v1_ListFederationsRequest__Output>
      ListFederationsResponse: MessageTypeDefinition<_tributary_v1_ListFederationsResponse, _tributary_v1_ListFederationsResponse__Output>
      ListGrantsRequest: MessageTypeDefinition<_tributary_v1_ListGrantsRequest, _tributary_v1_ListGrantsRequest__Output>
      ListGrantsResponse: MessageTypeDefinition<_tributary_v1_ListGrantsResponse, _tributary_v1_ListGrantsResponse__Output>
      ListInvitationsRequest: MessageTypeDefinition<_tributary_v1_ListInvitationsRequest, _tributary_v1_ListInvitationsRequest__Output>
      ListInvitationsResponse: MessageTypeDefinition<_tributary_v1_ListInvitationsResponse, _tributary_v1_ListInvitationsResponse__Output>
      ListModelVersionsRequest: MessageTypeDefinition<_tributary_v1_ListModelVersionsRequest, _tributary_v1_ListModelVersionsRequest__Output>
      ListModelVersionsResponse: MessageTypeDefinition<_tributary_v1_ListModelVersionsResponse, _tributary_v1_ListModelVersionsResponse__Output>
      ListPrincipalsRequest: MessageTypeDefinition<_tributary_v1_ListPrincipalsRequest, _tributary_v1_ListPrincipalsRequest__Output>
      ListPrincipalsResponse: MessageTypeDefinition<_tributary_v1_ListPrincipalsResponse, _tributary_v1_ListPrincipalsResponse__Output>
      ListRoundsRequest: MessageTypeDefinition<_tributary_v1_ListRoundsRequest, _tributary_v1_ListRoundsRequest__Output>
      ListRoundsResponse: MessageTypeDefinition<_tributary_v1_ListRoundsResponse, _tributary_v1_ListRoundsResponse__Output>
      ListRunsRequest: MessageTypeDefinition<_tributary_v1_ListRunsRequest, _tributary_v1_ListRunsRequest__Output>
      ListRunsResponse: MessageTypeDefinition<_tributary_v1_ListRunsResponse, _tributary_v1_ListRunsResponse__Output>
      ListSitesRequest: MessageTypeDefinition<_tributary_v1_ListSitesRequest, _tributary_v1_ListSitesRequest__Output>
      ListSitesResponse: MessageTypeDefinition<_tributary_v1_ListSitesResponse, _tributary_v1_ListSitesResponse__Output>
      MetricBatch: MessageTypeDefinition<_tributary_v1_MetricBatch, _tributary_v1_MetricBatch__Output>
      MetricEvent: MessageTypeDefinition<_tributary_v1_MetricEvent, _tributary_v1_MetricEvent__Output>
      MetricPoint: MessageTypeDefinition<_tributary_v1_MetricPoint, _tributary_v1_MetricPoint__Output>
      MetricSeries: MessageTypeDefinition<_tributary_v1_MetricSeries, _tributary_v1_MetricSeries__Output>
      ModelChunk: MessageTypeDefinition<_tributary_v1_ModelChunk, _tributary_v1_ModelChunk__Output>
      ModelSpec: MessageTypeDefinition<_tributary_v1_ModelSpec, _tributary_v1_ModelSpec__Output>
      ModelVersion: MessageTypeDefinition<_tributary_v1_ModelVersion, _tributary_v1_ModelVersion__Output>
      NatsCredentials: MessageTypeDefinition<_tributary_v1_NatsCredentials, _tributary_v1_NatsCredentials__Output>
      PartialManifest: MessageTypeDefinition<_tributary_v1_PartialManifest, _tributary_v1_PartialManifest__Output>
      PartialRequest: MessageTypeDefinition<_tributary_v1_PartialRequest, _tributary_v1_PartialRequest__Output>
      Principal: MessageTypeDefinition<_tributary_v1_Principal, _tributary_v1_Principal__Output>
      PrincipalStatus: EnumTypeDefinition
      Refusal: MessageTypeDefinition<_tributary_v1_Refusal, _tributary_v1_Refusal__Output>
      RemoveSiteRequest: MessageTypeDefinition<_tributary_v1_RemoveSiteRequest, _tributary_v1_RemoveSiteRequest__Output>
      ReportTaskFailureRequest: MessageTypeDefinition<_tributary_v1_ReportTaskFailureRequest, _tributary_v1_ReportTaskFailureRequest__Output>
      ReportTaskFailureResponse: MessageTypeDefinition<_tributary_v1_ReportTaskFailureResponse, _tributary_v1_ReportTaskFailureResponse__Output>
      RestoreSiteRequest: MessageTypeDefinition<_tributary_v1_RestoreSiteRequest, _tributary_v1_RestoreSiteRequest__Output>
      RevokeInvitationRequest: MessageTypeDefinition<_tributary_v1_RevokeInvitationRequest, _tributary_v1_RevokeInvitationRequest__Output>
      RevokePrivilegeRequest: MessageTypeDefinition<_tributary_v1_RevokePrivilegeRequest, _tributary_v1_RevokePrivilegeRequest__Output>
      RevokeSiteRequest: MessageTypeDefinition<_tributary_v1_RevokeSiteRequest, _tributary_v1_RevokeSiteRequest__Output>
      RotatePrincipalKeyRequest: MessageTypeDefinition<_tributary_v1_RotatePrincipalKeyRequest, _tributary_v1_RotatePrincipalKeyRequest__Output>
      Round: MessageTypeDefinition<_tributary_v1_Round, _tributary_v1_Round__Output>
      RoundFailurePolicy: EnumTypeDefinition
      RoundState: EnumTypeDefinition
      Run: MessageTypeDefinition<_tributary_v1_Run, _tributary_v1_Run__Output>
      RunEvent: MessageTypeDefinition<_tributary_v1_RunEvent, _tributary_v1_RunEvent__Output>
      RunEventDetail: EnumTypeDefinition
      RunStatus: EnumTypeDefinition
      SearchRunsRequest: MessageTypeDefinition<_tributary_v1_SearchRunsRequest, _tributary_v1_SearchRunsRequest__Output>
      SearchRunsResponse: MessageTypeDefinition<_tributary_v1_SearchRunsResponse, _tributary_v1_SearchRunsResponse__Output>
      SignedEnvelope: MessageTypeDefinition<_tributary_v1_SignedEnvelope, _tributary_v1_SignedEnvelope__Output>
      Site: MessageTypeDefinition<_tributary_v1_Site, _tributary_v1_Site__Output>
      SiteFailure: MessageTypeDefinition<_tributary_v1_SiteFailure, _tributary_v1_SiteFailure__Output>
      SiteService: SubtypeConstructor<typeof grpc.Client, _tributary_v1_SiteServiceClient> & { service: _tributary_v1_SiteServiceDefinition }
      SiteStatus: EnumTypeDefinition
      StartRunRequest: MessageTypeDefinition<_tributary_v1_StartRunRequest, _tributary_v1_StartRunRequest__Output>
      StopRunRequest: MessageTypeDefinition<_tributary_v1_StopRunRequest, _tributary_v1_StopRunRequest__Output>
      Task: MessageTypeDefinition<_tributary_v1_Task, _tributary_v1_Task__Output>
      TensorSpec: MessageTypeDefinition<_tributary_v1_TensorSpec, _tributary_v1_TensorSpec__Output>
      TrackedRun: MessageTypeDefinition<_tributary_v1_TrackedRun, _tributary_v1_TrackedRun__Output>
      UpdateFederationRequest: MessageTypeDefinition<_tributary_v1_UpdateFederationRequest, _tributary_v1_UpdateFederationRequest__Output>
      UpdateManifest: MessageTypeDefinition<_tributary_v1_UpdateManifest, _tributary_v1_UpdateManifest__Output>
      UpdateState: EnumTypeDefinition
      UpdateStatus: MessageTypeDefinition<_tributary_v1_UpdateStatus, _tributary_v1_UpdateStatus__Output>
      UpdateSummary: MessageTypeDefinition<_tributary_v1_UpdateSummary, _tributary_v1_UpdateSummary__Output>
      VerifyAuditLogRequest: MessageTypeDefinition<_tributary_v1_VerifyAuditLogRequest, _tributary_v1_VerifyAuditLogRequest__Output>
      WatchMetricsRequest: MessageTypeDefinition<_tributary_v1_WatchMetricsRequest, _tributary_v1_WatchMetricsRequest__Output>
      WatchRunRequest: MessageTypeDefinition<_tributary_v1_WatchRunRequest, _tributary_v1_WatchRunRequest__Output>
      WatchTasksRequest: MessageTypeDefinition<_tributary_v1_WatchTasksRequest, _tributary_v1_WatchTasksRequest__Output>
      WhoAmIRequest: MessageTypeDefinition<_tributary_v1_WhoAmIRequest, _tributary_v1_WhoAmIRequest__Output>
      WhoAmIResponse: MessageTypeDefinition<_tributary_v1_WhoAmIResponse, _tributary_v1_WhoAmIResponse__Output>
    }
  }
}

