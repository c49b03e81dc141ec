// Package systemd holds what installs gatescan as a service: the unit
// (gatescan.service: Type=notify, watchdog, reload, sandbox), the user
// (gatescan.sysusers) and the inboxes (gatescan.tmpfiles); `make install`
// puts them in place. It has no Go code: its tests check these files with
// systemd's own tools and run `make install` into a scratch root.
package systemd
