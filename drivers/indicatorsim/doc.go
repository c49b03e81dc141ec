// Package indicatorsim simulates a weighbridge indicator, for technicians
// testing a gate without a truck and for the demo.
//
// A Sim speaks any scale protocol that implements scale.Encoder. It usually
// sits on a pseudo-terminal (NewPTY): the agent opens the slave device,
// Path, with the real serial driver exactly as it would open /dev/ttyUSB0,
// so the whole chain from serial port to truck events is exercised. It can
// also drive a real serial port (New), e.g. a USB adapter cabled to the
// agent's weighbridge input.
//
// While streaming, the Sim sends the current weight at a fixed rate (10
// frames a second by default), in whole divisions with a little noise as a
// real load cell shows it. The bridge is empty at zero until a truck drives
// on:
//
//	sim, err := indicatorsim.NewPTY()
//	...
//	defer sim.Close()
//	toledo, err := indicatorsim.Encoder("toledo")
//	...
//	sim.Start(toledo, 100*time.Millisecond)            // the bridge at zero
//	// the agent opens sim.Path() as the lane's weighbridge port
//	sim.Weigh(ctx, indicatorsim.Truck{GrossKg: 24180}) // drive on, settle
//	// ... send the scan ...
//	sim.Leave(ctx)                                     // drive off
//
// Weigh ramps the weight up axle by axle with the motion flag set, then
// holds it still and returns once the stable gross has been sent for the
// truck's Settle time. Leave ramps it down to zero. Set puts any weight on
// the bridge at once. Play runs a whole scenario of trucks one after
// another.
package indicatorsim
