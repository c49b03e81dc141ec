//go:build tools

package tools

import (
	_ "github.com/creack/pty"
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/mochi-mqtt/server/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "go.bug.st/serial"
	_ "gocv.io/x/gocv"
	_ "gopkg.in/yaml.v3"
)
