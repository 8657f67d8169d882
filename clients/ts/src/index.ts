export { RoostClient, RoostObject } from "./client.js";
export type { ClientOptions, MethodMap, MethodsOf, MethodTypes, RequestOptions } from "./client.js";
export { RoostError } from "./errors.js";
export { RoostSocket, RECONNECT_CODES } from "./socket.js";
export type { CloseDetail, SocketOptions, SocketState, WebSocketConstructor } from "./socket.js";
export { Workflow, WorkflowInstance, FINAL_STATES } from "./workflows.js";
export type { WorkflowErrorInfo, WorkflowPage, WorkflowState, WorkflowStatus, WorkflowStep, WorkflowSummary } from "./workflows.js";
