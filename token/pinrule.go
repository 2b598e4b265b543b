package token

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrPINRule: a new PIN that a UKEY's PIN policy would refuse or that
// makes a weak PIN. PINRuleError says which rule.
var ErrPINRule = errors.New("the new PIN breaks a PIN rule")

// PINRule names a rule a new PIN breaks.
type PINRule string

const (
	PINLength PINRule = "length" // 6 to 16 characters
	PINSame   PINRule = "same"   // not one character repeated
	PINOld    PINRule = "old"    // not the old PIN
	PINASCII  PINRule = "ascii"  // printable ASCII only: middleware differ on anything else
)

// PINRuleError is a new PIN refused by CheckNewPIN.
type PINRuleError struct{ Rule PINRule }

func (e *PINRuleError) Error() string { return fmt.Sprintf("%v (%s)", ErrPINRule, e.Rule) }
func (e *PINRuleError) Unwrap() error { return ErrPINRule }

// Length bounds of a new PIN, what UKEY middleware commonly enforce.
const (
	MinPINLen = 6
	MaxPINLen = 16
)

// CheckNewPIN applies the PIN rules a real UKEY has before the token is
// asked: 6–16 printable ASCII characters, not one character repeated, not
// the old PIN. It reads the PINs and keeps nothing.
func CheckNewPIN(old, pin []byte) error {
	switch {
	case len(pin) < MinPINLen || len(pin) > MaxPINLen:
		return &PINRuleError{PINLength}
	case bytes.Count(pin, pin[:1]) == len(pin):
		return &PINRuleError{PINSame}
	case bytes.Equal(old, pin):
		return &PINRuleError{PINOld}
	}
	for _, c := range pin {
		if c < 0x21 || c > 0x7e {
			return &PINRuleError{PINASCII}
		}
	}
	return nil
}
