package scale

import (
	"bytes"
	"fmt"
)

// A unit is a unit of weight an indicator may display. One unit is
// factor × 10^exp kilograms; metric units keep factor 1 so that their
// conversion is a power-of-ten shift with a single rounding.
type unit struct {
	sym    string // as reported in Reading.Unit
	exp    int
	factor float64
}

// The units indicators send. The pound and its kin are defined by their
// exact statutory value in kilograms.
var (
	kilogram     = unit{"kg", 0, 1}
	gram         = unit{"g", -3, 1}
	tonne        = unit{"t", 3, 1}
	pound        = unit{"lb", 0, 0.45359237}
	ounce        = unit{"oz", 0, 0.028349523125}
	troyOunce    = unit{"ozt", 0, 0.0311034768}
	pennyweight  = unit{"dwt", 0, 0.00155517384}
	shortTon     = unit{"tn", 0, 907.18474}
	longTon      = unit{"lt", 0, 1016.0469088}
	knownUnits   = []unit{kilogram, gram, tonne, pound, ounce, troyOunce, pennyweight, shortTon, longTon}
	unitSynonyms = map[string]unit{"lbs": pound, "kgs": kilogram}
)

// lookupUnit returns the unit whose symbol is sym, ignoring case and
// surrounding spaces.
func lookupUnit(sym []byte) (unit, error) {
	s := trimSpaces(sym)
	for _, u := range knownUnits {
		if bytes.EqualFold(s, []byte(u.sym)) {
			return u, nil
		}
	}
	if u, ok := unitSynonyms[string(bytes.ToLower(s))]; ok {
		return u, nil
	}
	if len(s) == 0 {
		return unit{}, fmt.Errorf("unit field %q is blank", string(sym))
	}
	return unit{}, fmt.Errorf("unit %q is not a unit of weight", string(s))
}

// setWeight sets *dst, a weight field of r, to w in the unit unitField
// names, in kilograms, and r.Unit to that unit.
func setWeight(r *Reading, dst **float64, w num, unitField []byte) error {
	u, err := lookupUnit(unitField)
	if err != nil {
		return err
	}
	r.Unit = u.sym
	*dst = weight(u.kg(w))
	return nil
}

// readWeight sets *dst, a weight field of r, from a signed decimal field
// in the unit unitField names (see setWeight). The weight of a reading out
// of range may be anything, even no number: it is then left unset.
func readWeight(r *Reading, dst **float64, field, unitField []byte) error {
	w, err := parseNum("weight", field, withSign|withPoint)
	if err != nil {
		if r.Overload || r.Underload {
			return nil
		}
		return err
	}
	return setWeight(r, dst, w, unitField)
}

// unitFor returns the unit a Reading names, kilograms when it names none
// or one that is not in allowed (every known unit when allowed is nil).
func unitFor(sym string, allowed ...unit) unit {
	u, err := lookupUnit([]byte(sym))
	if err != nil {
		return kilogram
	}
	if allowed == nil {
		return u
	}
	for _, a := range allowed {
		if a == u {
			return u
		}
	}
	return kilogram
}

// kg converts a number displayed in u to kilograms.
func (u unit) kg(n num) float64 {
	return signed(shift(float64(n.mant)*u.factor, u.exp-n.dec), n.neg)
}

// from converts kilograms to u.
func (u unit) from(kg float64) float64 {
	return shift(kg/u.factor, -u.exp)
}
