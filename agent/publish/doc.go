// Package publish delivers the buffer's outbox to the control rooms' MQTT
// broker, in order, deleting each entry only after the broker's PUBACK, and
// keeps the gate's retained status (with "offline" as the last will).
// Nothing in the inspection path waits on it: a slow or absent broker only
// makes the outbox grow.
package publish
