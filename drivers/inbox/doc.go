// Package inbox watches a spool directory for complete files: file-system
// events for speed, plus a periodic rescan so that nothing written while the
// agent was down, or an event lost under load, is missed. It also moves
// files that cannot be used to rejected/ with a .error text beside them.
package inbox
