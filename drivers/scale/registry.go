package scale

// The indicator protocols, registered here and nowhere else so that the
// list of names in interfaces.md §3 can be checked against one place.
func init() {
	for _, p := range []Protocol{
		Toledo{},
		SICS,
		SMA,
		XK3190,
		XK3190EQ,
		RLWS,
		STGS,
	} {
		Register(p)
	}
}
