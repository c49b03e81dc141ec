// Package weighing turns one lane's weighbridge readings into truck events,
// judged as a metrologist would (after OIML R 76, non-automatic weighing
// instruments).
//
// A Weigher receives every reading of its lane's indicator and reports what
// happened on the bridge:
//
//	BridgeEmpty   the empty bridge is at rest (once at start and after each truck)
//	TruckArrived  the load rose above Config.MinTruckKg: a visit begins
//	Settled       the load came to rest: GrossKg is the stable gross
//	TruckLeft     the load fell below Config.MinTruckKg: the visit ends
//
// A weight is stable when the indicator does not flag motion (for protocols
// that carry a motion flag) and, in addition, every reading of the last
// Config.StableFor lies within a band Config.StableBandDivisions divisions
// either side of the centre, the stable-equilibrium test of R 76. Readings
// that report overload or underload never make a stable weight. The stable
// gross is the mean of that window rounded to the division.
//
// Each visit reports one Settled weight, and a new one only when the load
// comes to rest again clearly higher (by more than 10 divisions or 1 %): a
// long vehicle whose trailer axles roll onto the deck after the tractor has
// stopped. Customs wants the gross of the whole vehicle; a bridge cannot weigh
// more than the vehicle on it, so a lower weight later in the visit (axles
// rolling off) never replaces it. TruckLeft repeats the visit's settled gross.
//
// While the bridge is empty and at rest, the Weigher follows slow drift of
// the zero (rain, mud, temperature) the way an indicator's automatic zero
// tracking does: by at most Config.ZeroBandDivisions divisions per second,
// only while the reading is within that band of the current zero, and never
// further than Config.ZeroRangeDivisions from the indicator's zero. Gross
// weights are reported relative to the tracked zero.
//
// A truck arrives or leaves after two successive readings on the other side
// of Config.MinTruckKg, so that a single corrupt frame does not make a visit.
//
// Throttle limits the live-weight messages of a lane to two a second
// (interfaces.md §4).
package weighing
