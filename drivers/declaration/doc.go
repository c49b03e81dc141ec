// Package declaration parses and checks customs declarations
// (interfaces.md §2) and ISO 6346 container numbers.
package declaration
