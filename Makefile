# gatescan: `make demo` and `make test` are all a new user needs.
# System packages are installed with apt-get only when absent.

GO        ?= go
BIN       := bin/gatescan
APT_PKGS  := libopencv-dev mosquitto pkg-config
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GOFLAGS_T ?= -count=1
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/gatescan/gatescan/agent.Version=$(VERSION)

.PHONY: all deps build demo test bench fuzz vet install clean

all: build

# Debian 12 packages the build and the tests need: OpenCV 4.6 for gocv
# v0.31.0, mosquitto for the MQTT tests.
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

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gatescan

demo: build
	./$(BIN) demo

test: deps
	$(GO) vet ./...
	$(GO) test $(GOFLAGS_T) -timeout 15m ./...
	$(GO) test $(GOFLAGS_T) -tags matprofile -run 'MatProfile|Detector' -timeout 10m ./vision/

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./vision/ ./drivers/scale/ ./buffer/

# Short fuzzing of every parser; run longer by hand with FUZZTIME=10m.
FUZZTIME ?= 30s
fuzz: deps
	@for pkg in ./drivers/scale ./drivers/scanin ./agent/declaration ./config; do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)/usr/local/bin/gatescan
	install -D -m 0644 systemd/gatescan.service $(DESTDIR)/etc/systemd/system/gatescan.service
	[ -f $(DESTDIR)/etc/gatescan/gatescan.yaml ] || { install -d $(DESTDIR)/etc/gatescan && ./$(BIN) config defaults > $(DESTDIR)/etc/gatescan/gatescan.yaml; }
	install -d -m 0750 $(DESTDIR)/var/spool/gatescan/scans $(DESTDIR)/var/spool/gatescan/declarations

clean:
	rm -rf bin
