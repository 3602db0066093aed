// Original file: tributary.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DownloadModelRequest as _tributary_v1_DownloadModelRequest, DownloadModelRequest__Output as _tributary_v1_DownloadModelRequest__Output } from '../../tributary/v1/DownloadModelRequest.js';
import type { EnrollRequest as _tributary_v1_EnrollRequest, EnrollRequest__Output as _tributary_v1_EnrollRequest__Output } from '../../tributary/v1/EnrollRequest.js';
import type { EnrollResponse as _tributary_v1_EnrollResponse, EnrollResponse__Output as _tributary_v1_EnrollResponse__Output } from '../../tributary/v1/EnrollResponse.js';
import type { GetNatsCredentialsRequest as _tributary_v1_GetNatsCredentialsRequest, GetNatsCredentialsRequest__Output as _tributary_v1_GetNatsCredentialsRequest__Output } from '../../tributary/v1/GetNatsCredentialsRequest.js';
import type { GetUpdateStatusRequest as _tributary_v1_GetUpdateStatusRequest, GetUpdateStatusRequest__Output as _tributary_v1_GetUpdateStatusRequest__Output } from '../../tributary/v1/GetUpdateStatusRequest.js';
import type { HeartbeatRequest as _tributary_v1_HeartbeatRequest, HeartbeatRequest__Output as _tributary_v1_HeartbeatRequest__Output } from '../../tributary/v1/HeartbeatRequest.js';
import type { HeartbeatResponse as _tributary_v1_HeartbeatResponse, HeartbeatResponse__Output as _tributary_v1_HeartbeatResponse__Output } from '../../tributary/v1/HeartbeatResponse.js';
import type { ModelChunk as _tributary_v1_ModelChunk, ModelChunk__Output as _tributary_v1_ModelChunk__Output } from '../../tributary/v1/ModelChunk.js';
import type { NatsCredentials as _tributary_v1_NatsCredentials, NatsCredentials__Output as _tributary_v1_NatsCredentials__Output } from '../../tributary/v1/NatsCredentials.js';
import type { ReportTaskFailureRequest as _tributary_v1_ReportTaskFailureRequest, ReportTaskFailureRequest__Output as _tributary_v1_ReportTaskFailureRequest__Output } from '../../tributary/v1/ReportTaskFailureRequest.js';
import type { ReportTaskFailureResponse as _tributary_v1_ReportTaskFailureResponse, ReportTaskFailureResponse__Output as _tributary_v1_ReportTaskFailureResponse__Output } from '../../tributary/v1/ReportTaskFailureResponse.js';
import type { Task as _tributary_v1_Task, Task__Output as _tributary_v1_Task__Output } from '../../tributary/v1/Task.js';
import type { UpdateStatus as _tributary_v1_UpdateStatus, UpdateStatus__Output as _tributary_v1_UpdateStatus__Output } from '../../tributary/v1/UpdateStatus.js';
import type { WatchTasksRequest as _tributary_v1_WatchTasksRequest, WatchTasksRequest__Output as _tributary_v1_WatchTasksRequest__Output } from '../../tributary/v1/WatchTasksRequest.js';
import type { WhoAmIRequest as _tributary_v1_WhoAmIRequest, WhoAmIRequest__Output as _tributary_v1_WhoAmIRequest__Output } from '../../tributary/v1/WhoAmIRequest.js';
import type { WhoAmIResponse as _tributary_v1_WhoAmIResponse, WhoAmIResponse__Output as _tributary_v1_WhoAmIResponse__Output } from '../../tributary/v1/WhoAmIResponse.js';

export interface SiteServiceClient extends grpc.Client {
  DownloadModel(argument: _tributary_v1_DownloadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_ModelChunk__Output>;
  DownloadModel(argument: _tributary_v1_DownloadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_ModelChunk__Output>;
  downloadModel(argument: _tributary_v1_DownloadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_ModelChunk__Output>;
  downloadModel(argument: _tributary_v1_DownloadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_ModelChunk__Output>;
  
  Enroll(argument: _tributary_v1_EnrollRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _tributary_v1_EnrollRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _tributary_v1_EnrollRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _tributary_v1_EnrollRequest, callback: grpc.requestCallback<_tributary_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _tributary_v1_EnrollRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _tributary_v1_EnrollRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _tributary_v1_EnrollRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _tributary_v1_EnrollRequest, callback: grpc.requestCallback<_tributary_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  
  GetNatsCredentials(argument: _tributary_v1_GetNatsCredentialsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  GetNatsCredentials(argument: _tributary_v1_GetNatsCredentialsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  GetNatsCredentials(argument: _tributary_v1_GetNatsCredentialsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  GetNatsCredentials(argument: _tributary_v1_GetNatsCredentialsRequest, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  getNatsCredentials(argument: _tributary_v1_GetNatsCredentialsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  getNatsCredentials(argument: _tributary_v1_GetNatsCredentialsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  getNatsCredentials(argument: _tributary_v1_GetNatsCredentialsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  getNatsCredentials(argument: _tributary_v1_GetNatsCredentialsRequest, callback: grpc.requestCallback<_tributary_v1_NatsCredentials__Output>): grpc.ClientUnaryCall;
  
  GetUpdateStatus(argument: _tributary_v1_GetUpdateStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_UpdateStatus__Output>): grpc.ClientUnaryCall;
  GetUpdateStatus(argument: _tributary_v1_GetUpdateStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_UpdateStatus__Output>): grpc.ClientUnaryCall;
  GetUpdateStatus(argument: _tributary_v1_GetUpdateStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_UpdateStatus__Output>): grpc.ClientUnaryCall;
  GetUpdateStatus(argument: _tributary_v1_GetUpdateStatusRequest, callback: grpc.requestCallback<_tributary_v1_UpdateStatus__Output>): grpc.ClientUnaryCall;
  getUpdateStatus(argument: _tributary_v1_GetUpdateStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_UpdateStatus__Output>): grpc.ClientUnaryCall;
  getUpdateStatus(argument: _tributary_v1_GetUpdateStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_UpdateStatus__Output>): grpc.ClientUnaryCall;
  getUpdateStatus(argument: _tributary_v1_GetUpdateStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_UpdateStatus__Output>): grpc.ClientUnaryCall;
  getUpdateStatus(argument: _tributary_v1_GetUpdateStatusRequest, callback: grpc.requestCallback<_tributary_v1_UpdateStatus__Output>): grpc.ClientUnaryCall;
  
  Heartbeat(argument: _tributary_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tributary_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tributary_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _tributary_v1_HeartbeatRequest, callback: grpc.requestCallback<_tributary_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tributary_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tributary_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tributary_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _tributary_v1_HeartbeatRequest, callback: grpc.requestCallback<_tributary_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  
  ReportTaskFailure(argument: _tributary_v1_ReportTaskFailureRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ReportTaskFailureResponse__Output>): grpc.ClientUnaryCall;
  ReportTaskFailure(argument: _tributary_v1_ReportTaskFailureRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ReportTaskFailureResponse__Output>): grpc.ClientUnaryCall;
  ReportTaskFailure(argument: _tributary_v1_ReportTaskFailureRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ReportTaskFailureResponse__Output>): grpc.ClientUnaryCall;
  ReportTaskFailure(argument: _tributary_v1_ReportTaskFailureRequest, callback: grpc.requestCallback<_tributary_v1_ReportTaskFailureResponse__Output>): grpc.ClientUnaryCall;
  reportTaskFailure(argument: _tributary_v1_ReportTaskFailureRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ReportTaskFailureResponse__Output>): grpc.ClientUnaryCall;
  reportTaskFailure(argument: _tributary_v1_ReportTaskFailureRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ReportTaskFailureResponse__Output>): grpc.ClientUnaryCall;
  reportTaskFailure(argument: _tributary_v1_ReportTaskFailureRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ReportTaskFailureResponse__Output>): grpc.ClientUnaryCall;
  reportTaskFailure(argument: _tributary_v1_ReportTaskFailureRequest, callback: grpc.requestCallback<_tributary_v1_ReportTaskFailureResponse__Output>): grpc.ClientUnaryCall;
  
  WatchTasks(argument: _tributary_v1_WatchTasksRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_Task__Output>;
  WatchTasks(argument: _tributary_v1_WatchTasksRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_Task__Output>;
  watchTasks(argument: _tributary_v1_WatchTasksRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_Task__Output>;
  watchTasks(argument: _tributary_v1_WatchTasksRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tributary_v1_Task__Output>;
  
  WhoAmI(argument: _tributary_v1_WhoAmIRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  WhoAmI(argument: _tributary_v1_WhoAmIRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  WhoAmI(argument: _tributary_v1_WhoAmIRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  WhoAmI(argument: _tributary_v1_WhoAmIRequest, callback: grpc.requestCallback<_tributary_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  whoAmI(argument: _tributary_v1_WhoAmIRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  whoAmI(argument: _tributary_v1_WhoAmIRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  whoAmI(argument: _tributary_v1_WhoAmIRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  whoAmI(argument: _tributary_v1_WhoAmIRequest, callback: grpc.requestCallback<_tributary_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface SiteServiceHandlers extends grpc.UntypedServiceImplementation {
  DownloadModel: grpc.handleServerStreamingCall<_tributary_v1_DownloadModelRequest__Output, _tributary_v1_ModelChunk>;
  
  Enroll: grpc.handleUnaryCall<_tributary_v1_EnrollRequest__Output, _tributary_v1_EnrollResponse>;
  
  GetNatsCredentials: grpc.handleUnaryCall<_tributary_v1_GetNatsCredentialsRequest__Output, _tributary_v1_NatsCredentials>;
  
  GetUpdateStatus: grpc.handleUnaryCall<_tributary_v1_GetUpdateStatusRequest__Output, _tributary_v1_UpdateStatus>;
  
  Heartbeat: grpc.handleUnaryCall<_tributary_v1_HeartbeatRequest__Output, _tributary_v1_HeartbeatResponse>;
  
  ReportTaskFailure: grpc.handleUnaryCall<_tributary_v1_ReportTaskFailureRequest__Output, _tributary_v1_ReportTaskFailureResponse>;
  
  WatchTasks: grpc.handleServerStreamingCall<_tributary_v1_WatchTasksRequest__Output, _tributary_v1_Task>;
  
  WhoAmI: grpc.handleUnaryCall<_tributary_v1_WhoAmIRequest__Output, _tributary_v1_WhoAmIResponse>;
  
}

export interface SiteServiceDefinition extends grpc.ServiceDefinition {
  DownloadModel: MethodDefinition<_tributary_v1_DownloadModelRequest, _tributary_v1_ModelChunk, _tributary_v1_DownloadModelRequest__Output, _tributary_v1_ModelChunk__Output>
  Enroll: MethodDefinition<_tributary_v1_EnrollRequest, _tributary_v1_EnrollResponse, _tributary_v1_EnrollRequest__Output, _tributary_v1_EnrollResponse__Output>
  GetNatsCredentials: MethodDefinition<_tributary_v1_GetNatsCredentialsRequest, _tributary_v1_NatsCredentials, _tributary_v1_GetNatsCredentialsRequest__Output, _tributary_v1_NatsCredentials__Output>
  GetUpdateStatus: MethodDefinition<_tributary_v1_GetUpdateStatusRequest, _tributary_v1_UpdateStatus, _tributary_v1_GetUpdateStatusRequest__Output, _tributary_v1_UpdateStatus__Output>
  Heartbeat: MethodDefinition<_tributary_v1_HeartbeatRequest, _tributary_v1_HeartbeatResponse, _tributary_v1_HeartbeatRequest__Output, _tributary_v1_HeartbeatResponse__Output>
  ReportTaskFailure: MethodDefinition<_tributary_v1_ReportTaskFailureRequest, _tributary_v1_ReportTaskFailureResponse, _tributary_v1_ReportTaskFailureRequest__Output, _tributary_v1_ReportTaskFailureResponse__Output>
  WatchTasks: MethodDefinition<_tributary_v1_WatchTasksRequest, _tributary_v1_Task, _tributary_v1_WatchTasksRequest__Output, _tributary_v1_Task__Output>
  WhoAmI: MethodDefinition<_tributary_v1_WhoAmIRequest, _tributary_v1_WhoAmIResponse, _tributary_v1_WhoAmIRequest__Output, _tributary_v1_WhoAmIResponse__Output>
}
