// Package jsondoc decodes the JSON documents of the external contracts
// (interfaces.md): the scanner's sidecar, the customs declaration. Their
// required keys are checked by name before the fields are decoded, so that
// a field left out is told apart from one sent as zero.
package jsondoc
