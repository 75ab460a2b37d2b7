export { Client, ServerError, type ClientOptions, type CommitOptions, type ClientEvents } from "./client.js";
export { Replica, type ReplicaNode } from "./replica.js";
