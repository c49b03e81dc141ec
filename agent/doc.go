// Package agent is the gatescan daemon: it runs the lanes' weighbridges, the
// scan and declaration inboxes, joins each scan with its truck's weight and
// its containers' declarations, runs the detector, commits every result to
// the buffer and hands it to the publisher, and shuts down without losing
// anything it accepted.
package agent
