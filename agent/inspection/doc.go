// Package inspection defines the inspection result that gatescan stores,
// publishes and prints (interfaces.md §4): the verdict, the risk, the weights
// and the findings, each finding with its stable code.
package inspection
