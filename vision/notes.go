package vision

// Box is a rectangle in metres from the container's outer top-left
// corner as seen in the image.
type Box struct {
	XM float64 `json:"x_m"`
	YM float64 `json:"y_m"`
	WM float64 `json:"w_m"`
	HM float64 `json:"h_m"`
}

// Severity is how much an image-quality note weighs: info, warning or
// critical, as in the inspection results.
type Severity string

// Severities, in increasing order.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// A Note is a problem with the scan itself (the image-quality findings):
// what limits what the detector could measure, with the measured fraction
// and the accepted range when there is one.
type Note struct {
	Severity Severity
	Message  string
	Measured *float64
	Expected *[2]float64
}

func quality(sev Severity, msg string) Note {
	return Note{Severity: sev, Message: msg}
}

func ptr(v float64) *float64 { return &v }
