// Package assess turns what the X-ray shows, what the weighbridge weighed and
// what customs was told into inspection results: the findings, the risk and
// the verdict. It is shared by the daemon and `gatescan inspect`, so that a
// scan inspected offline gets exactly the verdict it got at the gate.
package assess
