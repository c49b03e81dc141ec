package declaration

import (
	"fmt"
	"strings"
)

// letterValue is the ISO 6346 equivalent value of each letter: A=10 and up,
// skipping multiples of 11.
var letterValue = func() [26]int {
	var v [26]int
	n := 10
	for i := range v {
		if n%11 == 0 {
			n++
		}
		v[i] = n
		n++
	}
	return v
}()

// CheckDigit computes the ISO 6346 check digit of the first ten characters
// of a container number (owner code, category, serial).
func CheckDigit(s string) (int, error) {
	if len(s) < 10 {
		return 0, fmt.Errorf("container number %q is too short: need 4 letters and 6 digits", s)
	}
	sum := 0
	for i := 0; i < 10; i++ {
		ch := s[i]
		var v int
		switch {
		case i < 4 && ch >= 'A' && ch <= 'Z':
			v = letterValue[ch-'A']
		case i >= 4 && ch >= '0' && ch <= '9':
			v = int(ch - '0')
		default:
			return 0, fmt.Errorf("container number %q: character %d (%q) must be a %s", s, i+1, ch, map[bool]string{true: "letter", false: "digit"}[i < 4])
		}
		sum += v << i
	}
	return sum % 11 % 10, nil
}

// Normalize upper-cases a container number and drops spaces and dashes as
// printed on doors and OCR read-outs ("MSKU 123456-7").
func Normalize(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '/' {
			return -1
		}
		return r
	}, s)
}

// ValidContainerID checks an ISO 6346 container number: owner code (3
// letters), category (U, J or Z), 6-digit serial and check digit.
func ValidContainerID(id string) error {
	s := Normalize(id)
	if len(s) != 11 {
		return fmt.Errorf("container number %q has %d characters; ISO 6346 has 11 (e.g. CSQU3054383)", id, len(s))
	}
	switch s[3] {
	case 'U', 'J', 'Z':
	default:
		return fmt.Errorf("container number %q: category %q must be U, J or Z", id, s[3])
	}
	want, err := CheckDigit(s)
	if err != nil {
		return err
	}
	if got := int(s[10] - '0'); s[10] < '0' || s[10] > '9' || got != want {
		return fmt.Errorf("container number %q: check digit is %q, computed %d", id, s[10], want)
	}
	return nil
}

// Correct finds the one container number among known that a misread
// number (failing its check) differs from in exactly one character. ok is
// false when none or several fit: a guess between two would be worse than
// no join.
func Correct(misread string, known []string) (string, bool) {
	s := Normalize(misread)
	found := ""
	n := 0
	for _, k := range known {
		if len(k) != len(s) || k == s {
			continue
		}
		diff := 0
		for i := 0; i < len(s) && diff < 2; i++ {
			if s[i] != k[i] {
				diff++
			}
		}
		if diff == 1 && ValidContainerID(k) == nil {
			found = k
			n++
		}
	}
	return found, n == 1
}
