// Package config loads, checks and documents the gatescan YAML config.
//
// The defaults live in defaults.yaml, embedded in the binary: it is both the
// base every config file is laid over and, with its comments, what
// `gatescan config defaults` prints, so the documentation cannot drift from
// the values. Loading is strict: an unknown or misspelt key is an error that
// names its path and line, so a technician's typo never silently falls back
// to a default.
package config
