export { Client, ServerError, type ClientOptions, type CommitOptions, type ClientEvents, type Hello, type NodeCommit, type Welcome } from "./client.js";
export { Replica, type ReplicaNode } from "./replica.js";
