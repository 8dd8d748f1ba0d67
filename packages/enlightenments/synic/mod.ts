/**
 * `@hv/synic`: the `hv-synic` enlightenment (synthetic interrupt controller): its MSRs and
 * hypercalls, and the delivery API other plugins use (stimer's HVMSG_TIMER_EXPIRED messages,
 * hyperv-testdev, later VMBus): {@link postSynicMessage}, {@link signalSynicEvent}, the connection
 * table and {@link synicTestDevBackend}.
 * @module
 */
export { synic } from "./src/synic.ts";
export {
  ConnectionKind,
  SYNIC_CONNECTION_CAPACITY,
  SYNIC_MESSAGE_QUEUE_DEPTH,
  SYNIC_MESSAGE_WORDS,
  SYNIC_OWNER,
  synicPartitionState,
  type SynicPartitionViews,
  synicVpState,
  type SynicVpViews,
} from "./src/state.ts";
export {
  addSynicEomListener,
  postSynicMessage,
  signalSynicEvent,
  synicEndOfMessage,
  type SynicEventResult,
  synicMessageQueued,
  type SynicMessageResult,
  synicQueuedMessages,
} from "./src/delivery.ts";
export {
  createSynicEventConnection,
  createSynicMessageConnection,
  destroySynicEventConnection,
  destroySynicMessageConnection,
  synicConnections,
  type SynicTestDevBackend,
  synicTestDevBackend,
} from "./src/connections.ts";
