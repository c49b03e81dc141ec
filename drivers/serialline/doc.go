// Package serialline keeps the serial line to one lane's weighbridge
// indicator open and turns its bytes into readings.
//
// A Line opens the configured port with go.bug.st/serial, decodes what the
// indicator sends with the configured scale protocol (interfaces.md §3) and
// hands every valid reading to a callback. Weighbridges live outdoors at the
// end of long cables and USB adapters, so the line is built to survive them:
//
//   - A frame that cannot be decoded (line noise, a wrong baud rate or
//     protocol) is counted and skipped; decoding goes on. At most one log
//     line per 30 seconds reports bad frames, with a hint to check the baud
//     rate and the protocol name.
//   - When the port fails (the USB adapter is unplugged, the device node
//     vanishes, a read returns an error or end of file) the line closes the
//     port, waits with exponential back-off and jitter (250 ms doubling to
//     10 s) and opens it again, until its context ends.
//   - Status reports the state of the line: up, down (the port is gone) or
//     silent (the port is open but no valid reading came for
//     Config.SilentAfter: the indicator is off, the cable goes to the wrong
//     port, or nothing decodes). Every change of state is logged once.
//
// For indicators that answer requests instead of streaming (scale.Poller
// protocols), set Config.PollInterval and the line writes the protocol's
// request at that interval.
//
// A Line can also decode a captured byte stream with Decode, which goes
// through the same counting and logging as a live port. New accepts an
// OpenFunc through NewWithOpener so that tests and tools can replace the
// serial driver with any io.ReadWriteCloser.
package serialline
