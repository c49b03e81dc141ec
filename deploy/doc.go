// Package deploy holds what a port's IT department installs and watches
// gatescan with: the Debian package's control files and maintainer scripts
// (debian/, built by `make deb`), the Prometheus alerting rules
// (prometheus/gatescan.rules.yml) and the Grafana dashboard
// (grafana/gatescan.json). It has no Go code: its tests build the package,
// install, upgrade and purge it in a scratch root, and check that every
// metric the rules and the dashboard name is one a running agent exports.
package deploy
