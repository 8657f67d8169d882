export { RoostClient, RoostObject } from "./client.js";
export { RoostError } from "./errors.js";
export { RoostSocket, RECONNECT_CODES } from "./socket.js";
export { Workflow, WorkflowInstance, FINAL_STATES } from "./workflows.js";
