// Package buffer is gatescan's durable store on the gate box, in Badger: the
// ordered outbox of MQTT messages, the inspections, the declarations and the
// lanes' truck weights.
//
// An inspection and the messages that announce it are committed in one
// transaction before anything else sees them; an outbox entry is deleted
// only after the broker acknowledged it. Badger, not the MQTT client's own
// store, is the source of truth, so a restart resumes delivery in order.
package buffer
