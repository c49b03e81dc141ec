// Package buffer is gatescan's durable store on the gate box, in Badger: the
// ordered outbox of MQTT messages, the inspections, the declarations and the
// lanes' truck weights.
//
// An inspection and the messages that announce it are committed in one
// transaction, synced to disk (Options.SyncWrites), before anything else
// sees them; committing a scan twice queues nothing the second time. The
// outbox is numbered in commit order. The publisher sends it in that order
// and records, with Ack, the number up to which the broker acknowledged
// everything; Badger, not the MQTT client's own store, is the source of
// truth, so a restart resumes delivery from the first unacknowledged
// message.
//
// A scan's annotated images follow its commit: the commit notes that they
// are pending (ScanCommit.Images), QueueImages queues them and deletes the
// note in one transaction, and ImagesPending lists, at start, the notes a
// crash left in between.
//
// Delivered messages stay for replay until Prune removes them (retention);
// EnforceBudget keeps the store within a disk budget by dropping, in order,
// delivered messages, then undelivered images, results, alert images and,
// last, alerts, each oldest first, and says what it dropped. Badger gives
// the space of deleted values back only after compactions; Reclaim forces
// that, GC collects the value log.
//
// The store can be encrypted at rest (Options.EncryptionKey, LoadKey). Tools
// read a running daemon's store through OpenCopy, never in place.
package buffer
