package main

import (
	"errors"
	"io"
)

func cmdScaleRead(args []string, stdout, stderr io.Writer) error {
	return errors.New("scale read: not built yet")
}

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	return errors.New("demo: not built yet")
}
