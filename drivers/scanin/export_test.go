package scanin

// Inflate is inflate, for the benchmarks of the external test package
// (which may import the simulators: they import this package).
var Inflate = inflate
