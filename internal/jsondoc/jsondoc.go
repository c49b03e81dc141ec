package jsondoc

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Decode decodes data, which must be a JSON object holding every key of
// required, into v. what names the document in errors ("sidecar"), section
// the part of interfaces.md that requires the keys ("§1").
func Decode(data []byte, v any, what, section string, required ...string) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%s is not a JSON object: %w", what, err)
	}
	for _, k := range required {
		if _, ok := raw[k]; !ok {
			return fmt.Errorf("%s has no %q: it is required (interfaces.md %s)", what, k, section)
		}
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		return fmt.Errorf("%s field has the wrong type: %w", what, err)
	}
	return nil
}
