// Package defaults fills the zero fields of a settings struct from a value
// holding its defaults, so that a package states its defaults once, as a
// value, rather than one cmp.Or line a field.
package defaults
