# gatescan: `make demo` and `make test` are all a new user needs.
# System packages are installed with apt-get only when absent.

GO        ?= go
BIN       := bin/gatescan
APT_PKGS  := libopencv-dev mosquitto pkg-config libisal-dev
# What only the tests need, as command:package; a package is installed only
# when its command is missing: headless Chromium for the technicians' page,
# systemd-analyze for the unit; dpkg-shlibdeps and lintian for the package.
TEST_TOOLS := chromium:chromium systemd-analyze:systemd dpkg-shlibdeps:dpkg-dev lintian:lintian
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GOFLAGS_T ?= -count=1
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/gatescan/gatescan/agent.Version=$(VERSION)

.PHONY: all deps test-deps pyref-deps build demo test bench fuzz vet install deb clean

all: build

# Debian 12 packages the build and the tests need: OpenCV 4.6 for gocv
# v0.31.0, mosquitto for the MQTT tests, ISA-L (libisal) for decoding PNG scans.
deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go 1.24+ is needed: see https://go.dev/doc/install"; exit 1; }

test-deps:
	@missing=""; for tp in $(TEST_TOOLS); do \
	  command -v $${tp%%:*} >/dev/null || missing="$$missing $${tp#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gatescan

demo: build
	./$(BIN) demo

test: deps test-deps
	$(GO) vet ./...
	# Every package under the race detector: a data race fails the build.
	$(GO) test $(GOFLAGS_T) -race -timeout 25m ./...
	$(GO) test $(GOFLAGS_T) -tags matprofile -run 'MatProfile|Detector' -timeout 10m ./vision/

# One package at a time (-p 1), so that benchmarks do not share the CPU;
# the 40 ft benchmarks report medians and x-floor, their time over the
# floor measured in the same iterations (see drivers/scanin/bench40_test.go,
# vision/bench_test.go; BenchmarkInspect40ft is batch inspect's per-scan time;
# BenchmarkSidecarToCommit40ft the daemon's latency from sidecar to result).
bench: build pyref-deps
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -benchtime 2s ./vision/ ./drivers/scale/ ./drivers/scanin/ ./buffer/ ./cmd/gatescan/ ./agent/
	/usr/bin/python3 vision/pyref/bench.py --gatescan $(BIN) --xraygen $(XRAYGEN) --seed $(PYREF_SEED)

# Batch inspect against the Python + OpenCV reference detector (vision/pyref)
# on one core, over xraygen's 40 ft scans of one seed: Debian's
# python3-opencv for the system Python, installed when it cannot import cv2.
XRAYGEN    ?= $(abspath ../shared/bin/xraygen)
PYREF_SEED ?= 11
pyref-deps:
	@/usr/bin/python3 -c 'import cv2' 2>/dev/null || { echo "installing: python3-opencv"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends python3-opencv; }

# Short fuzzing of every parser; run longer by hand with FUZZTIME=10m.
FUZZTIME ?= 30s
fuzz: deps
	@for pkg in ./drivers/scale ./drivers/scanin ./drivers/declaration ./config ./vision/calib; do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Puts the binary, the systemd unit, the gatescan user and inboxes
# (sysusers.d, tmpfiles.d), the README and a default config in place; an
# existing config is kept. With DESTDIR (packaging) only files are written;
# without, the user and the directories are made and systemd is told.
# Then: edit /etc/gatescan/gatescan.yaml, `systemctl enable --now gatescan`.
# PREFIX and UNITDIR are what `make deb` changes (/usr, /lib/systemd/system);
# the unit is rewritten to run the binary from PREFIX.
PREFIX  ?= /usr/local
UNITDIR ?= /etc/systemd/system
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/gatescan
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/|$(PREFIX)/|g' systemd/gatescan.service > $(DESTDIR)$(UNITDIR)/gatescan.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/gatescan.service
	install -D -m 0644 systemd/gatescan.sysusers $(DESTDIR)/usr/lib/sysusers.d/gatescan.conf
	install -D -m 0644 systemd/gatescan.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/gatescan.conf
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/gatescan/README.md
	@if [ -e $(DESTDIR)/etc/gatescan/gatescan.yaml ]; then \
	  echo "keeping $(DESTDIR)/etc/gatescan/gatescan.yaml"; \
	else \
	  install -d -m 0755 $(DESTDIR)/etc/gatescan && \
	  $(abspath $(BIN)) config defaults > $(DESTDIR)/etc/gatescan/gatescan.yaml && \
	  chmod 0640 $(DESTDIR)/etc/gatescan/gatescan.yaml; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
	  if command -v systemd-sysusers >/dev/null; then systemd-sysusers gatescan.conf; \
	  else getent passwd gatescan >/dev/null || useradd --system --home-dir /var/lib/gatescan --shell /usr/sbin/nologin --user-group --groups dialout gatescan; fi; \
	  if command -v systemd-tmpfiles >/dev/null; then systemd-tmpfiles --create gatescan.conf; \
	  else install -d -o gatescan -g gatescan -m 0750 /var/spool/gatescan && install -d -o gatescan -g gatescan -m 2770 /var/spool/gatescan/scans /var/spool/gatescan/declarations; fi; \
	  install -d -o gatescan -g gatescan -m 0750 /var/lib/gatescan; \
	  chgrp gatescan /etc/gatescan/gatescan.yaml; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	  echo "installed: edit /etc/gatescan/gatescan.yaml, then systemctl enable --now gatescan"; \
	fi

# The Debian package, bin/gatescan_VERSION_ARCH.deb, made with dpkg-deb from
# a `make install DESTDIR=` tree (deploy/debian/mkdeb.sh says how); lintian,
# when installed (`make test-deps`), fails it on any error or warning.
DEB_VERSION ?= $(shell deploy/debian/version.sh)
DEB_OUT     ?= bin
# The packaged binary is hardened as Debian's are (PIE, relocations
# read-only and bound at start); built apart from BIN.
DEB_BIN     := bin/pie/gatescan
deb: deps
	$(GO) build -buildmode=pie -ldflags "$(LDFLAGS) -extldflags '-Wl,-z,relro,-z,now'" -o $(DEB_BIN) ./cmd/gatescan
	deploy/debian/mkdeb.sh "$(DEB_BIN)" "$(DEB_VERSION)" "$(DEB_OUT)"
	@if command -v lintian >/dev/null; then lintian -I --fail-on error,warning "$(DEB_OUT)"/gatescan_$(DEB_VERSION)_*.deb; \
	else echo "lintian is not installed: apt-get install lintian"; fi

clean:
	rm -rf bin
