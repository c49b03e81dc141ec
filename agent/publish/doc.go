// Package publish delivers the buffer's outbox to the control rooms' MQTT
// broker, in order, recording delivery in the buffer only after the broker's
// PUBACK, and keeps the gate's retained status (with "offline" as the last
// will). It connects over TCP, TLS or mutual TLS, with a user name and
// password if configured (the password is never logged), and reconnects
// with exponential backoff and jitter, saying why an attempt failed.
// Nothing in the inspection path waits on it: a slow or absent broker only
// makes the outbox grow.
package publish
